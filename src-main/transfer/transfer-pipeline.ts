import { SpoolBuffer, type SpoolBufferOptions, type SpoolBufferStats } from './spool/spool-buffer.js';
import type { BlockPool } from '../core/block-pool.js';
import type { Throttle } from './throttle.js';

export interface ChunkSink {
  write(chunk: Buffer): Promise<void>;
  /** How many writes may be in flight at once (default 1); the sink must then order them itself. */
  readonly maxInFlight?: number;
  /** True when a chunk is no longer referenced once its write resolved, so its memory may be reused. */
  readonly releasesChunks?: boolean;
}

export interface TransferCounters {
  bytesRead: number;
  bytesWritten: number;
  readonly buffer: SpoolBufferStats;
  /** Time the producer spent blocked because memory and spool were both full (ms), a wait in progress included. */
  readonly producerBlockedMs: number;
  /** Time the producer spent held by the speed limit (ms), a wait in progress included. */
  readonly throttledMs: number;
  /** Time the consumer spent waiting for data (ms), a wait in progress included. */
  readonly consumerStarvedMs: number;
}

/** Counters for work that moves bytes without a pipeline (a verify, a merge, a host-side copy): no buffer in use. */
export function idleCounters(): TransferCounters {
  return {
    bytesRead: 0,
    bytesWritten: 0,
    buffer: { memoryBytes: 0, spoolBytes: 0, spoolPeakBytes: 0, memoryPeakBytes: 0 },
    producerBlockedMs: 0,
    throttledMs: 0,
    consumerStarvedMs: 0,
  };
}

/**
 * Milliseconds spent waiting, the wait in progress included: a destination that has hung for a minute shows as
 * a minute of waiting now, not only once its write returns.
 */
class WaitClock {
  private doneMs = 0;
  private since: number | null = null;
  async during<T>(wait: Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.since = t0;
    try {
      return await wait;
    } finally {
      this.doneMs += performance.now() - t0;
      this.since = null;
    }
  }
  get ms(): number {
    return this.doneMs + (this.since === null ? 0 : performance.now() - this.since);
  }
}

export interface TransferOptions {
  source: AsyncIterable<Buffer>;
  sink: ChunkSink;
  buffer: SpoolBufferOptions;
  throttle?: Throttle;
  signal?: AbortSignal;
  /** Extra consumers of every source byte in order (checksums, format validators); must be synchronous. */
  inspect?: (chunk: Buffer) => void;
  /**
   * The pool the source's chunks come from: each chunk is released to it once the pipeline is done with it
   * (copied into the buffer, or written by a sink that `releasesChunks`). `inspect` must not keep chunks.
   */
  pool?: BlockPool;
  /** Called once on the first failure of either side, e.g. to abort the HTTP request feeding the source. */
  onFailure?: (err: unknown) => void;
}

/**
 * source → meter → (speed limit) → bounded buffer (memory, then disk spool) → sink.
 * Two independent loops joined by the buffer, so the host is read while the destination stalls; a failure on
 * either side stops the other. Counters are live, for the progress sampler.
 */
export class Transfer {
  readonly counters: TransferCounters;
  private readonly buffer: SpoolBuffer;
  private readonly blocked = new WaitClock();
  private readonly throttled = new WaitClock();
  private readonly starved = new WaitClock();

  constructor(private readonly opts: TransferOptions) {
    this.buffer = new SpoolBuffer({ ...opts.buffer, pool: opts.pool });
    const { buffer, blocked, throttled, starved } = this;
    this.counters = {
      bytesRead: 0,
      bytesWritten: 0,
      get buffer() {
        return buffer.stats;
      },
      get producerBlockedMs() {
        return blocked.ms;
      },
      get throttledMs() {
        return throttled.ms;
      },
      get consumerStarvedMs() {
        return starved.ms;
      },
    };
  }

  async run(): Promise<TransferCounters> {
    const { source, sink, throttle, signal, inspect, pool } = this.opts;
    let failed = false;
    const fail = (err: unknown) => {
      this.buffer.fail(err);
      if (!failed) {
        failed = true;
        this.opts.onFailure?.(err);
      }
    };
    const c = this.counters;
    const onAbort = () => this.buffer.fail(signal!.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const producer = (async () => {
      for await (const chunk of source) {
        c.bytesRead += chunk.length;
        inspect?.(chunk);
        if (throttle) await this.throttled.during(throttle.take(chunk.length, signal));
        if (!(await this.blocked.during(this.buffer.push(chunk)))) pool?.release(chunk);
      }
      this.buffer.end();
    })().catch((err) => {
      fail(err);
      throw err;
    });
    const consumer = (async () => {
      const inFlight: Array<Promise<void>> = [];
      const maxInFlight = Math.max(1, sink.maxInFlight ?? 1);
      // Every write gets its handler at once: a failure must never sit as an unhandled rejection while
      // older writes are awaited.
      let writeError: unknown;
      const recycle = pool && sink.releasesChunks ? pool : undefined;
      const track = (p: Promise<void>, chunk: Buffer) =>
        p.then(
          () => {
            c.bytesWritten += chunk.length;
            recycle?.release(chunk);
          },
          (e: unknown) => void (writeError ??= e),
        );
      try {
        for (;;) {
          const chunk = await this.starved.during(this.buffer.shift());
          if (chunk === null) break;
          inFlight.push(track(sink.write(chunk), chunk));
          if (inFlight.length >= maxInFlight) await inFlight.shift();
          if (writeError) throw writeError;
        }
        while (inFlight.length) await inFlight.shift();
        if (writeError) throw writeError;
      } finally {
        // Never leave a write running behind a failure: the caller may close or remove the file next.
        await Promise.all(inFlight);
      }
    })().catch((err) => {
      fail(err);
      throw err;
    });
    try {
      const [p, q] = await Promise.allSettled([producer, consumer]);
      // The first real cause wins: a sink failure makes the producer fail too, with the same error.
      if (q.status === 'rejected') throw q.reason;
      if (p.status === 'rejected') throw p.reason;
      return c;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.buffer.close();
    }
  }
}
