import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { formatBytes, formatPercent } from '../../src-shared/units.js';

/**
 * A run's figures as the engine gives them, after each of its samples: a VM's are its disks' when its disks
 * report on their own (a skipped disk adds nothing; a disk it names that has not begun leaves the total
 * unknown), else its own sample's. `count` is what the total is the end of (read or written).
 */
export interface RunFigures {
  read: number;
  written: number;
  count: number;
  total: number | null;
  /** The total is the engine's estimate (from the disks' allocation), not a length. */
  estimated: boolean;
}

const countOf = (p: TransferProgress) => (p.totalOf === 'read' ? p.bytesRead : p.bytesWritten);

export function figuresAfterEach(samples: readonly TransferProgress[]): RunFigures[] {
  const latest = new Map<string, TransferProgress>();
  return samples.map((p) => {
    latest.set(`${p.vm.uuid}/${p.disk?.uuid ?? ''}`, p);
    return figuresOf([...latest.values()]);
  });
}

function figuresOf(latest: TransferProgress[]): RunFigures {
  const f: RunFigures = { read: 0, written: 0, count: 0, total: 0, estimated: false };
  for (const vm of new Set(latest.map((p) => p.vm.uuid))) {
    const mine = latest.filter((p) => p.vm.uuid === vm);
    const disks = mine.filter((p) => p.disk !== null);
    const own = mine.find((p) => p.disk === null);
    const counted = disks.length > 0 ? disks.filter((p) => p.phase !== 'skipped') : own ? [own] : [];
    const waiting = (own?.disks ?? []).some((d) => !disks.some((p) => p.disk!.uuid === d.uuid));
    for (const p of counted) {
      if (p.totalEstimate === 'allocation') f.estimated = true;
      f.read += p.bytesRead;
      f.written += p.bytesWritten;
      f.count += countOf(p);
    }
    if (waiting || counted.some((p) => p.totalBytes === null)) f.total = null;
    else if (f.total !== null) f.total += counted.reduce((n, p) => n + p.totalBytes!, 0);
  }
  return f;
}

export const bytesText = (n: number | null) => (n === null ? 'unknown' : formatBytes(n));

export const totalText = (f: RunFigures) =>
  f.total !== null && f.estimated ? `≈ ${formatBytes(f.total)}` : bytesText(f.total);

/** An estimated total is approached, never reached before the end (99 % at most). */
export function percentText(f: RunFigures): string {
  if (f.total === null) return 'unknown';
  return formatPercent(f.total === 0 ? 1 : Math.min(f.estimated ? 0.99 : 1, f.count / f.total));
}

/** Each disk's figures as its own samples give them, after each sample: name → [count, total] texts. */
export function diskTexts(samples: readonly TransferProgress[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of samples) {
    if (!p.disk) continue;
    let set = out.get(p.disk.name);
    if (!set) out.set(p.disk.name, (set = new Set(['0 B|unknown'])));
    const total =
      p.totalEstimate === 'allocation' && p.totalBytes !== null
        ? `≈ ${formatBytes(p.totalBytes)}`
        : bytesText(p.totalBytes);
    set.add(p.phase === 'skipped' ? '—|skipped' : `${formatBytes(countOf(p))}|${total}`);
  }
  return out;
}
