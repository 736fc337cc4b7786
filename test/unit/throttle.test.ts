import { describe, expect, it } from 'vitest';
import { MAX_WAIT_MS, Throttle, type Clock } from '../../src-main/transfer/throttle.js';

/** A clock that only moves when the throttle sleeps: the test measures the throttle, not the machine. */
function fakeClock(): Clock & { t: number; waits: number[] } {
  const c = {
    t: 0,
    waits: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.waits.push(ms);
      c.t += ms;
    },
  };
  return c;
}

describe('Throttle (per-job speed limit)', () => {
  it.each([
    [1024 * 1024, 64 * 1024],
    [10 * 1024 * 1024, 16 * 1024],
    [200 * 1024, 1024 * 1024],
  ])('holds %d B/s for chunks of %d B, in waits of at most 100 ms', async (rate, chunk) => {
    const clock = fakeClock();
    const throttle = new Throttle(rate, clock);
    const total = 20 * rate; // twenty seconds' worth
    for (let sent = 0; sent < total; sent += chunk) await throttle.take(chunk);
    const seconds = clock.t / 1000;
    // The first tenth of a second is a burst allowance; after it the rate holds.
    expect(total / seconds).toBeLessThanOrEqual(rate * 1.02);
    expect(total / seconds).toBeGreaterThanOrEqual(rate * 0.95);
    expect(Math.max(...clock.waits)).toBeLessThanOrEqual(MAX_WAIT_MS);
  });

  it('lets an aborted transfer through at once', async () => {
    const clock = fakeClock();
    const throttle = new Throttle(1024, clock);
    const c = new AbortController();
    c.abort();
    await throttle.take(10 * 1024 * 1024, c.signal);
    expect(clock.t).toBe(0);
  });
});
