import { setTimeout as sleep } from 'node:timers/promises';

/** How fast the simulated source (the SR behind the host) can produce data. */
export interface PaceOptions {
  /** Bytes per second the source delivers; unlimited when absent. */
  rateLimit?: number;
  /** Stops production: the generator throws the signal's reason at its next step. */
  signal?: AbortSignal;
}

/**
 * A source that works only when pulled, at `rateLimit` bytes/s: asking for n bytes makes them ready n/rate
 * seconds later (after whatever was already asked). A slow consumer therefore earns no burst credit, as with a
 * real disk read that simply waits for the next request.
 */
export class Pacer {
  private readyAt = 0;

  constructor(private readonly opts: PaceOptions = {}) {}

  /** Starts producing `bytes` more. */
  schedule(bytes: number): void {
    const rate = this.opts.rateLimit;
    if (!rate || rate <= 0) return;
    this.readyAt = Math.max(this.readyAt, performance.now()) + (bytes / rate) * 1000;
  }

  /** Waits at most maxMs for what was scheduled; returns true when it is ready. */
  async waitReady(maxMs = Infinity): Promise<boolean> {
    this.checkAborted();
    const delay = this.readyAt - performance.now();
    if (delay > 0) await sleep(Math.min(delay, maxMs), undefined, { signal: this.opts.signal });
    this.checkAborted();
    return performance.now() >= this.readyAt;
  }

  /** Schedules `bytes` and waits until they are ready. */
  async produce(bytes: number): Promise<void> {
    this.schedule(bytes);
    while (!(await this.waitReady())) {
      // Timers may fire a hair before performance.now() agrees; wait out the remainder.
    }
  }

  checkAborted(): void {
    this.opts.signal?.throwIfAborted();
  }
}
