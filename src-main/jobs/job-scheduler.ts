import type { Job, JobSchedule } from '../../src-shared/contract/jobs.js';
import { firesBetween, nextFire } from './cron-schedule.js';
import type { SchedulerClock } from './scheduler-clock.js';
import type { SchedulerState } from './scheduler-state.js';

export interface ScheduledFire {
  job: Job;
  schedule: JobSchedule;
  /** The fire time the schedule wanted. */
  scheduledFor: Date;
  /** on-time: now (within the grace); missed: it fell due while Sluice was not running (or asleep). */
  kind: 'on-time' | 'missed';
  /** Earlier fires in the same gap that were not run (collapsed: a gap runs at most one backup). */
  alsoMissed: number;
}

export interface SchedulerOptions {
  clock: SchedulerClock;
  state: SchedulerState;
  jobs: () => Job[];
  onFire: (fire: ScheduledFire) => void;
  /** A fire this late still counts as on time (event loop busy, a slow start). Default 5 min. */
  graceMs?: number;
  /** The longest the scheduler sleeps without looking at the clock again (it may have jumped). Default 60 s. */
  maxSleepMs?: number;
  onError?: (err: unknown) => void;
}

export function scheduleKey(jobId: string, scheduleId: string): string {
  return `${jobId}/${scheduleId}`;
}

/**
 * Decides when schedules fire; what a fire does (run, skip because the job is running, report as missed) is
 * the caller's. Each schedule remembers the last fire it dealt with, so after a restart the fires in between
 * are found, collapsed into one, and reported as missed or run.
 */
export class JobScheduler {
  private cancelTimer: (() => void) | undefined;
  private running = false;

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Jobs changed: look again now. */
  reschedule(): void {
    if (this.running) this.tick();
  }

  /** The next fire of each enabled schedule of an enabled job, soonest first. */
  nextRuns(job: Job, after = this.opts.clock.now()): Array<{ scheduleId: string; at: Date }> {
    return nextRunsOf(job, after);
  }

  private tick(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (!this.running) return;
    const { clock, state } = this.opts;
    const grace = this.opts.graceMs ?? 5 * 60_000;
    const now = clock.now();
    let soonest = Infinity;
    const keys = new Set<string>();
    const fires: ScheduledFire[] = [];
    for (const job of this.opts.jobs()) {
      for (const schedule of job.schedules) {
        const key = scheduleKey(job.id, schedule.id);
        keys.add(key);
        if (!job.enabled || !schedule.enabled) continue;
        let st = state.get(key);
        if (!st || st.cron !== schedule.cron || st.timezone !== schedule.timezone) {
          // A new or edited schedule counts from the job's last save (what fell due since then and was not run is missed).
          const saved = Math.min(Date.parse(job.updatedAt) || now.getTime(), now.getTime());
          st = { cron: schedule.cron, timezone: schedule.timezone, lastFireAt: new Date(saved).toISOString() };
          state.set(key, st);
        }
        let due: ReturnType<typeof firesBetween>;
        try {
          due = firesBetween(schedule.cron, schedule.timezone, new Date(st.lastFireAt), now);
        } catch (err) {
          this.opts.onError?.(err);
          continue;
        }
        if (due.last) {
          const onTime = now.getTime() - due.last.getTime() <= grace;
          fires.push({
            job,
            schedule,
            scheduledFor: due.last,
            kind: onTime ? 'on-time' : 'missed',
            alsoMissed: due.count - 1,
          });
          state.set(key, { ...st, lastFireAt: due.last.toISOString() });
        }
        const next = safeNextFire(schedule, now);
        if (next) soonest = Math.min(soonest, next.getTime());
      }
    }
    state.retain(keys);
    // Persisted before anything runs: a crash during the run shows it as interrupted, it does not run it again.
    void state.save().catch((err) => this.opts.onError?.(err));
    for (const f of fires) {
      try {
        this.opts.onFire(f);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
    const wait = Math.min(Math.max(0, soonest - now.getTime()), this.opts.maxSleepMs ?? 60_000);
    this.cancelTimer = clock.setTimer(wait, () => this.tick());
  }
}

/** The next fire of each enabled schedule of an enabled job after `after`, soonest first. */
export function nextRunsOf(job: Job, after: Date): Array<{ scheduleId: string; at: Date }> {
  if (!job.enabled) return [];
  const out: Array<{ scheduleId: string; at: Date }> = [];
  for (const s of job.schedules) {
    if (!s.enabled) continue;
    const at = safeNextFire(s, after);
    if (at) out.push({ scheduleId: s.id, at });
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime());
}

function safeNextFire(s: JobSchedule, after: Date): Date | null {
  try {
    return nextFire(s.cron, s.timezone, after);
  } catch {
    return null;
  }
}
