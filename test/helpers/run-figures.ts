import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { formatBytes, formatPercent } from '../../src-shared/units.js';

/**
 * A run's figures as the engine gives them, after each of its samples: a VM's are its disks' when its disks
 * report on their own (a skipped disk adds nothing; a disk it names that has not begun counts by the VM's
 * estimate of it, or leaves the total unknown without one), else its own sample's. `count` is what the total
 * is the end of (read or written).
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
    const waiting = (own?.disks ?? []).filter((d) => !d.skipped && !disks.some((p) => p.disk!.uuid === d.uuid));
    for (const p of counted) {
      if (p.totalEstimate === 'allocation') f.estimated = true;
      f.read += p.bytesRead;
      f.written += p.bytesWritten;
      f.count += countOf(p);
    }
    // A disk waiting its turn counts by the VM's estimate of it; without one the total is unknown.
    if (waiting.some((d) => d.estimatedBytes === undefined) || counted.some((p) => p.totalBytes === null))
      f.total = null;
    else if (f.total !== null) {
      f.total += counted.reduce((n, p) => n + p.totalBytes!, 0) + waiting.reduce((n, d) => n + d.estimatedBytes!, 0);
      if (waiting.length > 0) f.estimated = true;
    }
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
  const texts = (name: string) => {
    let set = out.get(name);
    if (!set) out.set(name, (set = new Set(['0 B|unknown'])));
    return set;
  };
  for (const p of samples) {
    // A VM that names its disks says what the ones not begun are: skipped, or waiting with an estimate.
    for (const d of p.disk === null ? (p.disks ?? []) : []) {
      if (d.skipped) texts(d.name).add('—|skipped');
      else if (d.estimatedBytes !== undefined) texts(d.name).add(`0 B|≈ ${formatBytes(d.estimatedBytes)}`);
    }
    if (!p.disk) continue;
    const set = texts(p.disk.name);
    const total =
      p.totalEstimate === 'allocation' && p.totalBytes !== null
        ? `≈ ${formatBytes(p.totalBytes)}`
        : bytesText(p.totalBytes);
    set.add(p.phase === 'skipped' ? '—|skipped' : `${formatBytes(countOf(p))}|${total}`);
  }
  return out;
}
