export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = { now: () => performance.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** The longest single wait: a limited export still reads every tenth of a second. */
export const MAX_WAIT_MS = 100;

/**
 * A token bucket for the per-job speed limit. It sleeps in slices of at most 100 ms, so a limited export
 * still reads every few tenths of a second and never looks stalled to a host that gives up after ~2 s.
 */
export class Throttle {
  private tokens: number;
  private last: number;
  constructor(
    private readonly bytesPerSec: number,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = Math.min(bytesPerSec / 10, 4 * 1024 * 1024);
    this.last = clock.now();
  }

  /** Resolves when `n` bytes may pass: paid up front, so the rate holds whatever the chunk size. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    // A chunk larger than the bucket may fill the bucket up to its own size while it waits.
    const cap = Math.max(this.bytesPerSec / 10, 64 * 1024, n);
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(cap, this.tokens + ((now - this.last) / 1000) * this.bytesPerSec);
      this.last = now;
      if (this.tokens >= n || signal?.aborted) {
        this.tokens -= n;
        return;
      }
      const waitMs = Math.min(MAX_WAIT_MS, ((n - this.tokens) / this.bytesPerSec) * 1000);
      await this.clock.sleep(Math.max(1, waitMs));
    }
  }
}
