/**
 * Bytes per second over a sliding window, from cumulative byte counts sampled over time. We count bytes
 * ourselves (the host's task progress is too coarse to show speed), on both sides of the buffer.
 */
export class RateMeter {
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  constructor(private readonly windowMs = 2000) {}

  sample(totalBytes: number, now = performance.now()): number {
    this.samples.push({ t: now, bytes: totalBytes });
    while (this.samples.length > 2 && now - this.samples[1]!.t >= this.windowMs) this.samples.shift();
    return this.rate();
  }

  rate(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? (last.bytes - first.bytes) / dt : 0;
  }
}
