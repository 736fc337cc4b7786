/**
 * Time as the scheduler sees it. The system clock in production; tests pass a clock they move by hand, so
 * a schedule is proven to fire without anyone sleeping.
 */
export interface SchedulerClock {
  now(): Date;
  /** Calls `fn` once, `ms` from now; returns the cancel. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** Node's timers; unref'ed, so a scheduler alone never keeps a process alive (the daemon holds it open itself). */
export const systemClock: SchedulerClock = {
  now: () => new Date(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    t.unref();
    return () => clearTimeout(t);
  },
};
