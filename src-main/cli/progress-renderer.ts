import { BACKUP_ENDS, type FlowEnds, verdictWords } from '../../src-shared/bottleneck-words.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { formatBytes, formatDuration, formatRate } from '../../src-shared/units.js';

const BAR = 24;

function key(p: TransferProgress): string {
  return `${p.vm.uuid}/${p.disk?.uuid ?? '*'}`;
}

/** The engine's verdict, in the words the UI's run card starts its sentence with. */
function bottleneckWords(p: TransferProgress, ends: FlowEnds): string {
  if (p.phase !== 'transfer') return '';
  return verdictWords({ side: p.bottleneck, why: p.bottleneckWhy, stalledForMs: p.stalledForMs }, ends).headline;
}

/**
 * One transfer's line. `disksWritten`: on the line of a VM whose disks report apart, what its disks wrote (the
 * VM's own sample counts no bytes of its disks).
 */
export function describeProgress(
  p: TransferProgress,
  tick: number,
  ends: FlowEnds = BACKUP_ENDS,
  disksWritten?: number,
): string {
  const name = (p.disk ? `${p.vm.name} / ${p.disk.name}` : p.vm.name).slice(0, 32).padEnd(32);
  let bar: string;
  let amount: string;
  const carrier = p.disk === null && !!p.disks?.length;
  // What the total counts: a verify reads and checks, it writes nothing.
  const done = p.totalOf === 'read' ? p.bytesRead : p.bytesWritten;
  if (carrier && p.phase !== 'done' && p.phase !== 'merge') {
    // The VM's own line while its disks copy: each disk has its line with the bytes.
    return `${name}  ${p.phase.padEnd(8)}  ${p.disks!.length} disk(s), one line each`;
  }
  if (p.phase === 'done') {
    bar = `[${'#'.repeat(BAR)}] done`;
    amount = formatBytes(carrier ? (disksWritten ?? done) : done);
  } else if (p.totalBytes && p.totalBytes > 0) {
    // An estimate (the disks' allocation) is marked as one, and never reaches 100 % before the end.
    const estimate = p.totalEstimate === 'allocation';
    const frac = Math.min(estimate ? 0.99 : 1, done / p.totalBytes);
    const full = Math.round(frac * BAR);
    bar = `[${'#'.repeat(full)}${'-'.repeat(BAR - full)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
    amount = `${formatBytes(done)} / ${estimate ? '≈ ' : ''}${formatBytes(p.totalBytes)}`;
  } else {
    // Unknown total: a moving marker shows bytes are flowing without pretending to a percentage.
    const pos = p.phase === 'transfer' ? tick % BAR : 0;
    bar = `[${'-'.repeat(pos)}${p.phase === 'transfer' ? '>' : '-'}${'-'.repeat(BAR - pos - 1)}]  ?? `;
    amount = `${formatBytes(done)} of unknown`;
  }
  const parts = [
    name,
    p.phase.padEnd(8),
    bar,
    amount,
    `${ends.sourceLabel} ${formatRate(p.sourceRate)}`,
    `${ends.destinationLabel} ${formatRate(p.destinationRate)}`,
  ];
  if (p.spoolBytes > 0) parts.push(`spool ${formatBytes(p.spoolBytes)}`);
  if (p.etaSeconds !== null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.attempt > 1) parts.push(`attempt ${p.attempt}`);
  const words = bottleneckWords(p, ends);
  if (words) parts.push(`(${words})`);
  return parts.join('  ');
}

/**
 * Progress on a terminal: one redrawn line per transfer on a TTY; elsewhere (a log file, CI) a line per
 * transfer every few seconds and at each phase change, so logs stay readable.
 */
export class ProgressRenderer {
  private readonly latest = new Map<string, TransferProgress>();
  private drawn = 0;
  private tick = 0;
  private lastPlain = new Map<string, { at: number; phase: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly ends: FlowEnds = BACKUP_ENDS,
  ) {
    if (out.isTTY) {
      this.timer = setInterval(() => this.redraw(), 250);
      this.timer.unref();
    }
  }

  update(p: TransferProgress): void {
    this.latest.set(key(p), p);
    if (!this.out.isTTY) {
      const prev = this.lastPlain.get(key(p));
      const now = Date.now();
      if (!prev || prev.phase !== p.phase || now - prev.at > 5000) {
        this.lastPlain.set(key(p), { at: now, phase: p.phase });
        this.out.write(this.describe(p, 0) + '\n');
      }
    }
  }

  /** Prints a log line above the bars (on `to`, e.g. stdout for a command's results; default the bars' stream). */
  log(line: string, to: NodeJS.WritableStream = this.out): void {
    if (this.out.isTTY) this.clear();
    to.write(line + '\n');
    if (this.out.isTTY) this.redraw();
  }

  private describe(p: TransferProgress, tick: number): string {
    let disksWritten = 0;
    for (const q of this.latest.values())
      if (q.runId === p.runId && q.vm.uuid === p.vm.uuid && q.disk !== null) disksWritten += q.bytesWritten;
    return describeProgress(p, tick, this.ends, disksWritten);
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[0J`);
    this.drawn = 0;
  }

  private redraw(): void {
    this.tick++;
    this.clear();
    const width = this.out.columns ?? 160;
    const lines = [...this.latest.values()].map((p) => this.describe(p, this.tick).slice(0, width - 1));
    if (lines.length) this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.out.isTTY) this.redraw();
  }
}
