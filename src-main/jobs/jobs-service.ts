import type { ParsedRequestOf } from '../../src-shared/contract/index.js';
import type { Dashboard } from '../../src-shared/contract/dashboard.js';
import type { Job, JobView } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import { runDeltaBackup } from '../backup/delta-backup.js';
import { runFullBackup } from '../backup/full-backup.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import { SluiceError } from '../errors/sluice-error.js';
import { ActiveRuns } from './active-runs.js';
import type { OperationRegistry } from '../runs/operation-registry.js';
import { buildDashboard } from './dashboard.js';
import { cleanLeftovers, recoverInterruptedRuns, type RecoveryDeps } from './interrupted-run-recovery.js';
import type { BackupFunctions } from './job-run.js';
import { startJobRun, type JobRunsDeps, type RunHow } from './job-run-lifecycle.js';
import { nextRunsOf } from './job-scheduler.js';
import { JobNotices } from './job-notices.js';
import { findJob, validateJob } from './job-validation.js';
import { RunHistory } from './run-history.js';
import { formatRunSummary, summaryFileName } from './run-summary-text.js';
import { handleFire } from './scheduled-fire.js';
import { SchedulerLeadership } from './scheduler-leadership.js';
import { systemClock, type SchedulerClock } from './scheduler-clock.js';
import type { JobsContext, PoolSessions } from './jobs-context.js';

export interface JobsServiceOptions {
  /** Drives the schedules (and dates job saves, from which a new schedule counts); records use real time. */
  clock?: SchedulerClock;
  backup?: BackupFunctions;
  retry?: BackupRunOptions['retry'];
  graceMs?: number;
}

/**
 * Jobs as the engine offers them: saved in settings (validated), run now or on schedule, one run of a job
 * at a time (in this process and, through a lock in the data dir, across processes), every run recorded,
 * the user told what failed. The scheduler runs only where `startScheduler` is called (app, serve, daemon).
 * The parts live beside it: job-run-lifecycle, interrupted-run-recovery, scheduler-leadership and
 * scheduled-fire, job-notices; this class ties them to one engine.
 */
export class JobsService {
  readonly history: RunHistory;
  private readonly clock: SchedulerClock;
  private readonly notices: JobNotices;
  private readonly active: ActiveRuns;
  private readonly runDeps: JobRunsDeps;
  private readonly recoveryDeps: RecoveryDeps;
  private readonly leadership: SchedulerLeadership;
  private initialised: Promise<void> | undefined;
  /** The background clean-up of interrupted runs' leftovers (awaited by tests and by close). */
  leftoversCleaned: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly ctx: JobsContext,
    private readonly pools: PoolSessions,
    registry: OperationRegistry,
    opts: JobsServiceOptions = {},
  ) {
    this.active = new ActiveRuns(registry);
    this.history = new RunHistory(ctx.dataDir);
    this.clock = opts.clock ?? systemClock;
    this.notices = new JobNotices(ctx);
    const { history, notices, active } = this;
    this.runDeps = {
      ctx,
      pools,
      history,
      notices,
      active,
      backup: opts.backup ?? { full: runFullBackup, delta: runDeltaBackup },
      retry: opts.retry,
      ready: () => this.init(),
    };
    this.recoveryDeps = { ctx, pools, history, notices, isActive: (runId) => active.find(runId) !== undefined };
    this.leadership = new SchedulerLeadership({
      dataDir: ctx.dataDir,
      clock: this.clock,
      notices,
      jobs: () => this.jobs(),
      onFire: (f) => void handleFire({ ctx, history, notices, start: (id, how) => this.start(id, how) }, f),
      graceMs: opts.graceMs,
    });
    ctx.settings.onChange(() => this.leadership.reschedule());
  }

  /** Once per process: runs left "running" by a process that died are marked interrupted and cleaned after. */
  init(): Promise<void> {
    this.initialised ??= this.recoverInterrupted();
    return this.initialised;
  }

  private async recoverInterrupted(): Promise<void> {
    const recovered = await recoverInterruptedRuns(this.recoveryDeps);
    if (recovered.length) this.leftoversCleaned = cleanLeftovers(this.recoveryDeps, recovered);
  }

  jobs(): Job[] {
    return this.ctx.settings.get().jobs;
  }

  async list(): Promise<JobView[]> {
    await this.init();
    const runs = await this.history.list({ limit: 10_000 });
    return this.jobs().map((job) => ({
      ...job,
      runningRunId:
        this.active.ofJob(job.id)?.runId ??
        runs.find((r) => r.jobId === job.id && r.status === 'running')?.runId ??
        null,
      nextRuns: this.nextRuns(job).map((n) => ({ scheduleId: n.scheduleId, at: n.at.toISOString() })),
      lastRun: runs.find((r) => r.jobId === job.id && r.status !== 'running') ?? null,
    }));
  }

  nextRuns(job: Job): Array<{ scheduleId: string; at: Date }> {
    return nextRunsOf(job, this.clock.now());
  }

  async save(input: ParsedRequestOf<'jobs.save'>): Promise<Job> {
    const job = validateJob(input, this.ctx.settings.get(), this.clock.now());
    await this.ctx.settings.update((s) => {
      const i = s.jobs.findIndex((j) => j.id === job.id);
      if (i >= 0) s.jobs[i] = job;
      else s.jobs.push(job);
    });
    this.ctx.bus.emit('settings.changed', { section: 'jobs' });
    return job;
  }

  async remove(id: string): Promise<boolean> {
    if (!this.jobs().some((j) => j.id === id)) return false;
    if (this.active.ofJob(id)) {
      throw new SluiceError('CONFLICT', 'This job is running; it cannot be removed now.', {
        hint: 'Cancel the run (or wait for it to end), then remove the job.',
      });
    }
    await this.ctx.settings.update((s) => void (s.jobs = s.jobs.filter((j) => j.id !== id)));
    this.ctx.bus.emit('settings.changed', { section: 'jobs' });
    return true;
  }

  /** Starts a run (see startJobRun): resolves once it is under way, with its end as `done`. */
  async start(
    idOrName: string,
    how: RunHow = { trigger: 'manual' },
  ): Promise<{ runId: string; done: Promise<RunSummary> }> {
    if (this.closed) throw new SluiceError('CANCELLED', 'Sluice is stopping.');
    return startJobRun(this.runDeps, findJob(this.jobs(), idOrName), how);
  }

  cancel(runId: string): boolean {
    return this.active.cancel(runId);
  }

  async runs(opts: { jobId?: string; limit?: number }): Promise<RunSummary[]> {
    await this.init();
    return this.history.list(opts);
  }

  async summary(runId: string): Promise<{ text: string; fileName: string }> {
    await this.init();
    const run = await this.history.get(runId);
    return { text: formatRunSummary(run), fileName: summaryFileName(run) };
  }

  async dashboard(): Promise<Dashboard> {
    await this.init();
    return buildDashboard({
      settings: this.ctx.settings.get(),
      history: this.history,
      nextRuns: (j) => this.nextRuns(j),
      inventory: (hostId) => withTimeout(this.pools.inventory(hostId), 10_000, 'The pool did not answer within 10 s.'),
      now: new Date(),
    });
  }

  /** Runs schedules from now on, if no other process of this data dir does (see SchedulerLeadership). */
  async startScheduler(): Promise<{ leader: boolean }> {
    await this.init();
    if (this.closed) return { leader: this.leadership.leading };
    return this.leadership.start(() => this.startScheduler());
  }

  /** Stops the scheduler, cancels runs in progress (they clean up after themselves) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    this.leadership.stop();
    this.active.cancelAll();
    await this.active.settled();
    await this.leftoversCleaned.catch(() => {});
    await this.leadership.releaseLock();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
