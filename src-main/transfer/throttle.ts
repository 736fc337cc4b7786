/**
 * A token bucket for the per-job speed limit. It sleeps in slices of at most 100 ms, so a limited export
 * still reads every few tenths of a second and never looks stalled to a host that gives up after ~2 s.
 */
export class Throttle {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly bytesPerSec: number) {
    this.tokens = Math.min(bytesPerSec / 10, 4 * 1024 * 1024);
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    const burst = Math.max(this.bytesPerSec / 10, 64 * 1024);
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSec);
      this.last = now;
      if (this.tokens >= Math.min(n, burst) || signal?.aborted) {
        this.tokens -= n;
        return;
      }
      const waitMs = Math.min(100, ((Math.min(n, burst) - this.tokens) / this.bytesPerSec) * 1000);
      await new Promise((r) => setTimeout(r, Math.max(1, waitMs)));
    }
  }
}
