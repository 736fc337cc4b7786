import type { BottleneckSide, BottleneckWhy } from '../../src-shared/contract/transfers.js';

/** What the judge reads at each sample: the transfer's cumulative counters and what its buffer holds now. */
export interface FlowReading {
  /** ms, any monotonic clock. */
  now: number;
  bytesRead: number;
  bytesWritten: number;
  memoryBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
  /** Cumulative ms: the host's side waiting for room in the buffer, for the speed limit; the writer for data. */
  producerBlockedMs: number;
  throttledMs: number;
  consumerStarvedMs: number;
}

export interface BottleneckVerdict {
  side: BottleneckSide;
  why?: BottleneckWhy;
  stalledForMs?: number;
}

const WINDOW_MS = 2000;
/** A new side is shown only once every reading for this long named it: short runs no longer flip every 2 s. */
export const HOLD_MS = 4000;
/** The first verdict needs less: nothing shown yet is being replaced. */
export const FIRST_HOLD_MS = 1000;
/** A side that moved no byte for this long is stalled, said at once: it is not just slower. */
export const STALL_AFTER_MS = 2000;
const FULL_SPOOL = 0.9;

/**
 * The one bottleneck verdict of a transfer, decided in the engine from what Sluice counts on both sides of its
 * buffer, over the last two seconds: the host's side blocked on a full buffer, or the buffer growing, means the
 * destination is slower; the host's side held by the speed limit means the limit sets the pace; the writer
 * waiting for data means the host is slower. Hysteresis keeps the shown verdict until another has held for
 * HOLD_MS; the CLI and the UI only word it.
 */
export class BottleneckJudge {
  private readonly window: FlowReading[] = [];
  private lastReadAt: number | undefined;
  private lastWriteAt: number | undefined;
  private shown: BottleneckVerdict = { side: 'unknown' };
  private candidate: { side: BottleneckSide; since: number } | undefined;

  judge(r: FlowReading): BottleneckVerdict {
    const prev = this.window[this.window.length - 1];
    if (!prev || r.bytesRead > prev.bytesRead) this.lastReadAt = r.now;
    if (!prev || r.bytesWritten > prev.bytesWritten) this.lastWriteAt = r.now;
    this.window.push(r);
    while (this.window.length > 2 && r.now - this.window[1]!.now >= WINDOW_MS) this.window.shift();
    const raw = this.reading(r);
    if (raw === undefined) return this.shown;
    if (raw.why === 'stalled') {
      this.candidate = undefined;
      return (this.shown = raw);
    }
    if (raw.side === this.shown.side) {
      this.candidate = undefined;
      return (this.shown = raw);
    }
    const candidate = this.candidate?.side === raw.side ? this.candidate : { side: raw.side, since: r.now };
    this.candidate = candidate;
    if (r.now - candidate.since >= (this.shown.side === 'unknown' ? FIRST_HOLD_MS : HOLD_MS)) {
      this.candidate = undefined;
      return (this.shown = raw);
    }
    // Still the shown side, but its reason of a moment ago may no longer hold (a drained spool): none is given.
    return (this.shown = { side: this.shown.side });
  }

  /** What the last two seconds say on their own, or undefined until they span enough to say anything. */
  private reading(r: FlowReading): BottleneckVerdict | undefined {
    const first = this.window[0]!;
    const span = r.now - first.now;
    if (span < 750) return undefined;
    const buffered = r.memoryBytes + r.spoolBytes;
    const blocked = (r.producerBlockedMs - first.producerBlockedMs) / span;
    const throttled = (r.throttledMs - first.throttledMs) / span;
    const starved = (r.consumerStarvedMs - first.consumerStarvedMs) / span;
    const noWrite = r.now - (this.lastWriteAt ?? r.now);
    const noRead = r.now - (this.lastReadAt ?? r.now);
    // Nothing written while the writer is not waiting for data: a write hangs on the destination.
    if (noWrite >= STALL_AFTER_MS && starved < 0.5)
      return { side: 'destination', why: 'stalled', stalledForMs: noWrite };
    if (noRead >= STALL_AFTER_MS && blocked < 0.5 && throttled < 0.5)
      return { side: 'source', why: 'stalled', stalledForMs: noRead };
    if (r.spoolCapBytes > 0 && r.spoolBytes >= FULL_SPOOL * r.spoolCapBytes)
      return { side: 'destination', why: 'spool-full' };
    if (blocked > 0.5) return { side: 'destination', why: 'waits' };
    const prevBuffered = first.memoryBytes + first.spoolBytes;
    const sent = ((r.bytesRead - first.bytesRead) / span) * 1000;
    const growth = ((buffered - prevBuffered) / span) * 1000;
    if (growth > Math.max(256 * 1024, 0.1 * sent))
      return { side: 'destination', why: r.spoolBytes > 0 ? 'spool-filling' : 'memory-filling' };
    if (throttled > 0.5) return { side: 'limit' };
    if (starved > 0.5) return { side: 'source', why: 'starved' };
    return { side: 'balanced' };
  }
}
