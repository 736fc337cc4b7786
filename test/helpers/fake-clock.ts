import type { SchedulerClock } from '../../src-main/jobs/scheduler-clock.js';

/** A clock tests move by hand: timers fire in order as time is advanced past them, nobody sleeps. */
export class FakeClock implements SchedulerClock {
  private t: number;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;

  constructor(start: Date | string) {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => void (this.timers = this.timers.filter((x) => x.id !== id));
  }

  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x.id !== due.id);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
  }

  /**
   * Moves the wall clock without firing anything (the machine slept, or Sluice was closed). Pending timers
   * move with it, as real timers do: they count elapsed time, not the wall clock.
   */
  jump(ms: number): void {
    this.t += ms;
    for (const x of this.timers) x.at += ms;
  }
}
