import path from 'node:path';
import type { Job } from '../../src-shared/contract/jobs.js';
import { lockDirectory, type ReleaseLock } from '../core/directory-lock.js';
import { SluiceError } from '../errors/sluice-error.js';
import { JobScheduler, type ScheduledFire } from './job-scheduler.js';
import type { JobNotices } from './job-notices.js';
import type { SchedulerClock } from './scheduler-clock.js';
import { SchedulerState } from './scheduler-state.js';

export interface LeadershipDeps {
  dataDir: string;
  clock: SchedulerClock;
  notices: JobNotices;
  jobs: () => Job[];
  onFire: (f: ScheduledFire) => void;
  graceMs?: number;
}

/**
 * Runs schedules in one process per data dir (the app, serve or the daemon, whichever started first), through
 * `scheduler.lock`: the others see it held and only serve run-now, trying again each minute.
 */
export class SchedulerLeadership {
  private scheduler: JobScheduler | undefined;
  private release: ReleaseLock | undefined;
  private cancelRetry: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly deps: LeadershipDeps) {}

  get leading(): boolean {
    return this.scheduler !== undefined;
  }

  /** Tries to lead; `retry` is how a later attempt (a minute on) starts again, through the caller. */
  async start(retry: () => Promise<unknown>): Promise<{ leader: boolean }> {
    if (this.scheduler || this.stopped) return { leader: this.scheduler !== undefined };
    try {
      this.release = await lockDirectory(path.join(this.deps.dataDir, 'scheduler.lock'), {
        purpose: 'the Sluice scheduler',
      });
    } catch (err) {
      if (!(err instanceof SluiceError) || err.code !== 'CONFLICT') throw err;
      this.deps.notices.log(
        'info',
        `Schedules are run by another Sluice process on this data dir (${err.message.replace(/^.*in use/, 'lock held')}); this one runs jobs on request only.`,
      );
      this.cancelRetry = this.deps.clock.setTimer(60_000, () => void retry().catch(() => {}));
      return { leader: false };
    }
    const state = new SchedulerState(this.deps.dataDir);
    await state.load();
    this.scheduler = new JobScheduler({
      clock: this.deps.clock,
      state,
      jobs: this.deps.jobs,
      onFire: this.deps.onFire,
      graceMs: this.deps.graceMs,
      onError: (err) => this.deps.notices.log('error', `Scheduler: ${(err as Error).message}`),
    });
    this.scheduler.start();
    return { leader: true };
  }

  reschedule(): void {
    this.scheduler?.reschedule();
  }

  /** Stops the schedules and the retries; the lock stays until release() (after the runs have ended). */
  stop(): void {
    this.stopped = true;
    this.scheduler?.stop();
    this.cancelRetry?.();
  }

  async releaseLock(): Promise<void> {
    await this.release?.();
  }
}
