import type { BackupPhase } from '../../src-shared/contract/backup-phases.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { BottleneckJudge, type BottleneckVerdict } from './bottleneck-judge.js';
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
  private readonly started: number;
  private judge = new BottleneckJudge();
  private verdict: BottleneckVerdict = { side: 'unknown' };
  phase: BackupPhase = 'queued';
  attempt = 1;
  totalBytes: number | null = null;
  /** Which count the total is the end of (see TransferProgress.totalOf). */
  totalOf: 'read' | 'written' = 'written';
  /** `totalBytes` is an estimate (see TransferProgress.totalEstimate) until the transfer knows better. */
  estimate: 'allocation' | undefined;
  /** Narrows the estimate as the transfer learns more (see XvaSizeEstimate.follow); read at every sample. */
  estimator: (() => number) | undefined;
  private estimateExceeded = false;
  counters: TransferCounters | undefined;
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
    /** ms, monotonic; the counters' own clock. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

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
    return new ProgressSampler({ ...this.base, disk }, this.listener, this.intervalMs, this.now);
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
    this.judge = new BottleneckJudge();
    this.verdict = { side: 'unknown' };
    this.estimateExceeded = false;
  }

  sample(): TransferProgress {
    const now = this.now();
    const c = this.counters;
    const bytesRead = c?.bytesRead ?? 0;
    const bytesWritten = c?.bytesWritten ?? 0;
    const sourceRate = this.sourceMeter.sample(bytesRead, now);
    const destinationRate = this.destMeter.sample(bytesWritten, now);
    const buffer = c?.buffer;
    if (c && this.phase === 'transfer') {
      this.verdict = this.judge.judge({
        now,
        bytesRead,
        bytesWritten,
        memoryBytes: buffer?.memoryBytes ?? 0,
        spoolBytes: buffer?.spoolBytes ?? 0,
        spoolCapBytes: this.base.spoolCapBytes,
        producerBlockedMs: c.producerBlockedMs,
        throttledMs: c.throttledMs,
        consumerStarvedMs: c.consumerStarvedMs,
      });
    }
    const verdict: BottleneckVerdict = this.phase === 'transfer' ? this.verdict : { side: 'unknown' };
    if (this.estimate && this.estimator && !this.estimateExceeded) this.totalBytes = this.estimator();
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
      bottleneck: verdict.side,
      ...(verdict.why ? { bottleneckWhy: verdict.why } : {}),
      ...(verdict.stalledForMs !== undefined ? { stalledForMs: Math.round(verdict.stalledForMs) } : {}),
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
