import type { BackupPhase } from '../../src-shared/contract/backup-phases.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { RateMeter } from './rate-meter.js';
import type { TransferCounters } from './transfer-pipeline.js';

export type ProgressListener = (p: TransferProgress) => void;

const ETA_MIN_ELAPSED_MS = 5000;

/**
 * Turns a transfer's live counters into progress samples: rates on both sides, buffer fill, the bottleneck
 * in one word, and an ETA only when the total is known and the rate has had time to settle.
 */
export class ProgressSampler {
  private readonly sourceMeter = new RateMeter();
  private readonly destMeter = new RateMeter();
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  private last = { blocked: 0, starved: 0, t: performance.now() };
  phase: BackupPhase = 'queued';
  attempt = 1;
  totalBytes: number | null = null;
  /** Which count the total is the end of (see TransferProgress.totalOf). */
  totalOf: 'read' | 'written' = 'written';
  /** `totalBytes` is an estimate (see TransferProgress.totalEstimate) until the transfer knows better. */
  estimate: 'allocation' | undefined;
  private estimateExceeded = false;
  counters: TransferCounters | undefined;
  private lastBottleneck: TransferProgress['bottleneck'] = 'unknown';
  /** Set on a VM's sampler when its disks report on their own (see TransferProgress.disks). */
  disks: TransferProgress['disks'];

  constructor(
    private readonly base: {
      runId: string;
      vm: TransferProgress['vm'];
      disk: TransferProgress['disk'];
      spoolCapBytes: number;
    },
    private readonly listener: ProgressListener,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.emit();
    this.timer = setInterval(() => this.emit(), this.intervalMs);
    this.timer.unref();
  }

  setPhase(phase: BackupPhase): void {
    this.phase = phase;
    this.emit();
  }

  /**
   * A sampler for one disk of this VM's run (same run, VM and listener; `disk` set), for a step that works disk
   * by disk under the VM's sampler: an export writing one file per disk, a restore moving a disk to its SR.
   */
  forDisk(disk: NonNullable<TransferProgress['disk']>): ProgressSampler {
    return new ProgressSampler({ ...this.base, disk }, this.listener, this.intervalMs);
  }

  stop(finalPhase?: BackupPhase): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (finalPhase) this.phase = finalPhase;
    this.emit();
  }

  /** A new attempt restarts the byte counts (the rates too), not the elapsed time. */
  restart(attempt: number, counters: TransferCounters): void {
    this.attempt = attempt;
    this.counters = counters;
    this.estimateExceeded = false;
    this.last = { blocked: 0, starved: 0, t: performance.now() };
  }

  sample(): TransferProgress {
    const now = performance.now();
    const c = this.counters;
    const bytesRead = c?.bytesRead ?? 0;
    const bytesWritten = c?.bytesWritten ?? 0;
    const sourceRate = this.sourceMeter.sample(bytesRead, now);
    const destinationRate = this.destMeter.sample(bytesWritten, now);
    const buffer = c?.buffer;
    if (c && this.phase === 'transfer') {
      const dt = now - this.last.t;
      if (dt >= 200) {
        const blocked = (c.producerBlockedMs - this.last.blocked) / dt;
        const starved = (c.consumerStarvedMs - this.last.starved) / dt;
        const buffered = (buffer?.memoryBytes ?? 0) + (buffer?.spoolBytes ?? 0);
        // Data piling up in the buffer, or the host held back: the remote is slower. The writer waiting for
        // data most of the time: the host is slower.
        this.lastBottleneck =
          blocked > 0.5 || buffered > 8 * 1024 * 1024 ? 'destination' : starved > 0.5 ? 'source' : 'balanced';
        this.last = { blocked: c.producerBlockedMs, starved: c.consumerStarvedMs, t: now };
      }
    }
    // An estimate the stream went past says so, rather than a bar stuck at its end.
    if (this.estimate && this.totalBytes !== null && bytesWritten >= this.totalBytes) this.estimateExceeded = true;
    const totalBytes = this.estimate && this.estimateExceeded ? null : this.totalBytes;
    const elapsedMs = now - this.started;
    const [done, rate] = this.totalOf === 'read' ? [bytesRead, sourceRate] : [bytesWritten, destinationRate];
    const eta =
      totalBytes !== null && rate > 0 && elapsedMs > ETA_MIN_ELAPSED_MS && this.phase === 'transfer'
        ? Math.max(0, (totalBytes - done) / rate)
        : null;
    return {
      ...this.base,
      ...(this.disks ? { disks: this.disks } : {}),
      phase: this.phase,
      attempt: this.attempt,
      bytesRead,
      bytesWritten,
      totalBytes,
      ...(this.totalOf === 'read' ? { totalOf: 'read' as const } : {}),
      ...(this.estimate ? { totalEstimate: this.estimateExceeded ? ('exceeded' as const) : this.estimate } : {}),
      sourceRate,
      destinationRate,
      memoryBytes: buffer?.memoryBytes ?? 0,
      spoolBytes: buffer?.spoolBytes ?? 0,
      spoolCapBytes: this.base.spoolCapBytes,
      bottleneck: this.phase === 'transfer' ? this.lastBottleneck : 'unknown',
      etaSeconds: eta === null ? null : Math.round(eta),
      elapsedMs: Math.round(elapsedMs),
      at: new Date().toISOString(),
    };
  }

  /** A sample now, between the timer's: the end of a step shorter than the interval still shows. */
  report(): void {
    this.emit();
  }

  private emit(): void {
    this.listener(this.sample());
  }
}
