import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { ParsedRequestOf } from '../../src-shared/contract/index.js';
import type { Dashboard } from '../../src-shared/contract/dashboard.js';
import type { Job, JobSchedule, JobView } from '../../src-shared/contract/jobs.js';
import type { RunSummary, SluiceNotification } from '../../src-shared/contract/runs.js';
import { runDeltaBackup } from '../backup/delta-backup.js';
import { runFullBackup } from '../backup/full-backup.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import type { EngineContext } from '../engine/engine-context.js';
import type { PoolConnections } from '../engine/pool-connections.js';
import { SluiceError } from '../errors/sluice-error.js';
import { lockVmFolder } from '../repository/vm-folder-lock.js';
import { buildDashboard } from './dashboard.js';
import { cleanRemoteLeftovers, destroySnapshotsOfRun } from './interrupted-run-cleanup.js';
import { executeJobRun, type BackupFunctions } from './job-run.js';
import { JobScheduler, nextRunsOf, type ScheduledFire } from './job-scheduler.js';
import { findJob, validateJob } from './job-validation.js';
import { RunHistory } from './run-history.js';
import { RunRecorder } from './run-recorder.js';
import { formatRunSummary, runTitle, summaryFileName } from './run-summary-text.js';
import { systemClock, type SchedulerClock } from './scheduler-clock.js';
import { SchedulerState } from './scheduler-state.js';

export interface JobsServiceOptions {
  /** Drives the schedules (and dates job saves, from which a new schedule counts); records use real time. */
  clock?: SchedulerClock;
  backup?: BackupFunctions;
  retry?: BackupRunOptions['retry'];
  graceMs?: number;
}

interface ActiveRun {
  runId: string;
  startedAt: Date;
  controller: AbortController;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Jobs as the engine offers them: saved in settings (validated), run now or on schedule, one run of a job
 * at a time (in this process and, through a lock in the data dir, across processes), every run recorded,
 * the user told what failed. The scheduler runs only where `startScheduler` is called (app, serve, daemon).
 */
export class JobsService {
  readonly history: RunHistory;
  private readonly clock: SchedulerClock;
  private readonly backup: BackupFunctions;
  private readonly active = new Map<string, ActiveRun>();
  private readonly finished = new Set<Promise<RunSummary>>();
  private scheduler: JobScheduler | undefined;
  private releaseLeader: (() => Promise<void>) | undefined;
  private cancelLeaderRetry: (() => void) | undefined;
  private initialised: Promise<void> | undefined;
  /** The background clean-up of interrupted runs' leftovers (awaited by tests and by close). */
  leftoversCleaned: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly pools: PoolConnections,
    private readonly opts: JobsServiceOptions = {},
  ) {
    this.history = new RunHistory(ctx.dataDir);
    this.clock = opts.clock ?? systemClock;
    this.backup = opts.backup ?? { full: runFullBackup, delta: runDeltaBackup };
    ctx.settings.onChange(() => this.scheduler?.reschedule());
  }

  /** Once per process: runs left "running" by a process that died are marked interrupted and cleaned after. */
  init(): Promise<void> {
    this.initialised ??= this.recoverInterrupted();
    return this.initialised;
  }

  private async recoverInterrupted(): Promise<void> {
    const host = os.hostname();
    const recovered = await this.history.recoverInterrupted(
      (run, owner) =>
        this.activeRun(run.runId) !== undefined ||
        owner.hostname !== host ||
        (owner.pid !== process.pid && pidAlive(owner.pid)),
      new Date(),
    );
    for (const run of recovered) {
      this.ctx.bus.emit('runs.finished', run);
      this.log(
        'warn',
        `The run of ${runTitle(run)} started at ${run.startedAt} was interrupted (Sluice stopped during it).`,
        runContext(run),
      );
      this.notify(
        'interrupted',
        `Backup interrupted: ${run.jobName}`,
        `The run started at ${run.startedAt} did not finish (Sluice stopped during it). ${run.jobId === null ? 'Back the VM up again.' : 'Run the job again.'}`,
        run,
      );
    }
    if (recovered.length) this.leftoversCleaned = this.cleanLeftovers(recovered);
  }

  private async cleanLeftovers(runs: RunSummary[]): Promise<void> {
    const s = this.ctx.settings.get();
    const paths = new Map(s.remotes.map((r) => [r.id, r.path]));
    for (const run of runs) {
      try {
        const removed = await cleanRemoteLeftovers(run, paths);
        if (removed.length)
          this.log(
            'info',
            `Removed ${removed.length} leftover file(s) of the interrupted run ${run.runId}.`,
            runContext(run),
          );
        // A "Back up now" run names its pool; a job run's pool is its job's.
        const hostId = run.hostId ?? s.jobs.find((j) => j.id === run.jobId)?.hostId;
        if (hostId && s.hosts.some((h) => h.id === hostId) && run.vms.some((v) => v.startedAt !== null)) {
          const n = await destroySnapshotsOfRun(await this.pools.session(hostId), run.runId);
          if (n)
            this.log(
              'info',
              `Destroyed ${n} snapshot(s) the interrupted run ${run.runId} left on the pool.`,
              runContext(run),
            );
        }
      } catch (err) {
        this.log(
          'warn',
          `Could not clean up after the interrupted run ${run.runId}: ${(err as Error).message}. The next run on that VM does it.`,
          runContext(run),
        );
      }
    }
  }

  private activeRun(runId: string): ActiveRun | undefined {
    return [...this.active.values()].find((a) => a.runId === runId);
  }

  private log(level: 'info' | 'warn' | 'error', message: string, context: Record<string, string> = {}): void {
    this.ctx.bus.emit('engine.log', { level, message, at: new Date().toISOString(), context });
  }

  private notify(kind: SluiceNotification['kind'], title: string, body: string, run: RunSummary | null): void {
    const p = this.ctx.settings.get().preferences;
    const wanted = kind === 'success' ? p.notifyOnSuccess : kind === 'missed' ? p.notifyOnMissed : p.notifyOnFailure;
    if (!wanted) return;
    this.ctx.bus.emit('notification', {
      kind,
      title,
      body,
      jobId: run?.jobId ?? null,
      runId: run?.runId ?? null,
      at: new Date().toISOString(),
    });
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
        this.active.get(job.id)?.runId ?? runs.find((r) => r.jobId === job.id && r.status === 'running')?.runId ?? null,
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
    if (this.active.has(id)) {
      throw new SluiceError('CONFLICT', 'This job is running; it cannot be removed now.', {
        hint: 'Cancel the run (or wait for it to end), then remove the job.',
      });
    }
    await this.ctx.settings.update((s) => void (s.jobs = s.jobs.filter((j) => j.id !== id)));
    this.ctx.bus.emit('settings.changed', { section: 'jobs' });
    return true;
  }

  /**
   * Starts a run (resolves once it is under way, with its end as `done`). A job already running, here or in
   * another Sluice process of this data dir, is not started twice: CONFLICT, saying which run holds it.
   */
  async start(
    idOrName: string,
    how: { trigger: RunSummary['trigger']; scheduleId?: string; scheduledFor?: Date } = { trigger: 'manual' },
  ): Promise<{ runId: string; done: Promise<RunSummary> }> {
    if (this.closed) throw new SluiceError('CANCELLED', 'Sluice is stopping.');
    const job = findJob(this.jobs(), idOrName);
    const holder = this.active.get(job.id);
    if (holder) throw this.alreadyRunning(job, holder.runId, holder.startedAt.toISOString(), 'this Sluice');
    // Claimed before the first await: two quick clicks cannot both pass the check above.
    const run: ActiveRun = { runId: randomUUID(), startedAt: new Date(), controller: new AbortController() };
    this.active.set(job.id, run);
    let release: (() => Promise<void>) | undefined;
    try {
      await this.init();
      release = await this.lockJob(job);
      const schedule = this.pickSchedule(job, how.scheduleId);
      const s = this.ctx.settings.get();
      const recorder = new RunRecorder(this.history, {
        runId: run.runId,
        job,
        trigger: how.trigger,
        scheduleId: schedule?.id ?? null,
        scheduledFor: how.scheduledFor ?? null,
        remotes: job.remoteIds.map((id) => ({ id, name: s.remotes.find((r) => r.id === id)?.name ?? id })),
        now: run.startedAt,
      });
      await recorder.save(true);
      this.ctx.bus.emit('runs.started', structuredClone(recorder.summary));
      this.log(
        'info',
        `Job "${job.name}" started (${how.trigger === 'manual' ? 'run by hand' : how.trigger === 'missed' ? 'a missed run, run at start' : 'on schedule'}).`,
        { jobId: job.id, runId: run.runId },
      );
      const releaseLock = release;
      const done = (async () => {
        let summary: RunSummary;
        try {
          summary = await this.execute(job, schedule, recorder, run);
        } finally {
          // Free before anyone hears of the end: a run started on the news must not find the job still held.
          this.active.delete(job.id);
          await releaseLock();
        }
        this.announceEnd(job, summary);
        return summary;
      })();
      this.finished.add(done);
      void done.finally(() => this.finished.delete(done)).catch(() => {});
      return { runId: run.runId, done };
    } catch (err) {
      this.active.delete(job.id);
      await release?.();
      throw err;
    }
  }

  private async execute(
    job: Job,
    schedule: JobSchedule | null,
    recorder: RunRecorder,
    run: ActiveRun,
  ): Promise<RunSummary> {
    const ctxFor = (extra?: Record<string, string>) => ({ jobId: job.id, runId: run.runId, ...extra });
    const summary = await executeJobRun({
      job,
      schedule,
      settings: this.ctx.settings.get(),
      recorder,
      signal: run.controller.signal,
      session: (hostId) => this.pools.session(hostId),
      backup: this.backup,
      now: () => new Date(),
      retry: this.opts.retry,
      log: (level, message, context) => {
        if (level === 'warn') recorder.warn(message, new Date(), context);
        this.log(level, message, ctxFor(context));
      },
      onProgress: (p) => {
        recorder.progress(p, new Date());
        this.ctx.bus.emit('backup.progress', p);
      },
    });
    await recorder.save(true);
    await this.history.prune(job.id).catch(() => 0);
    return summary;
  }

  private announceEnd(job: Job, summary: RunSummary): void {
    this.ctx.bus.emit('runs.finished', structuredClone(summary));
    const failed = summary.vms.filter((v) => v.status === 'failed').length;
    if (summary.status === 'success') {
      this.notify('success', `Backup done: ${job.name}`, `${summary.vms.length} VM backup(s) done.`, summary);
    } else if (summary.status === 'failed' || summary.status === 'partial') {
      const first = summary.vms.find((v) => v.error)?.error ?? summary.errors[0];
      this.notify(
        'failure',
        `Backup failed: ${job.name}`,
        `${failed ? `${failed} of ${summary.vms.length} VM backup(s) failed` : 'The run failed'}${first ? `: ${first.message}` : '.'}`,
        summary,
      );
    }
    this.log(
      summary.status === 'success' ? 'info' : summary.status === 'cancelled' ? 'warn' : 'error',
      `Job "${job.name}" ended: ${summary.status}.`,
      { jobId: job.id, runId: summary.runId },
    );
  }

  /** The schedule a run counts for (its retention applies): the one that fired, else the job's first enabled one. */
  private pickSchedule(job: Job, scheduleId: string | undefined): JobSchedule | null {
    if (scheduleId) {
      const s = job.schedules.find((x) => x.id === scheduleId);
      if (!s)
        throw new SluiceError('NOT_FOUND', `The job "${job.name}" has no schedule ${scheduleId}.`, {
          hint: 'Pick one of its schedules.',
        });
      return s;
    }
    return job.schedules.find((s) => s.enabled) ?? job.schedules[0] ?? null;
  }

  private async lockJob(job: Job): Promise<() => Promise<void>> {
    try {
      return await lockVmFolder(path.join(this.ctx.dataDir, 'job-locks', `${job.id}.lock`), `job "${job.name}"`);
    } catch (err) {
      if (!(err instanceof SluiceError) || err.code !== 'CONFLICT') throw err;
      const other = (await this.history.list({ jobId: job.id, limit: 20 })).find((r) => r.status === 'running');
      throw this.alreadyRunning(job, other?.runId ?? null, other?.startedAt ?? null, 'another Sluice process');
    }
  }

  private alreadyRunning(job: Job, runId: string | null, since: string | null, where: string): SluiceError {
    return new SluiceError(
      'CONFLICT',
      `Job "${job.name}" is already running${runId ? ` (run ${runId}, started ${since}, in ${where})` : ` (in ${where})`}; it was not started a second time.`,
      {
        hint: 'Wait for that run to finish, or cancel it, then run the job again.',
        context: { job: job.name },
      },
    );
  }

  cancel(runId: string): boolean {
    const run = this.activeRun(runId);
    if (!run) return false;
    run.controller.abort(new SluiceError('CANCELLED', 'Cancelled by the user.'));
    return true;
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

  // ---- the scheduler ----

  /**
   * Runs schedules from now on. One process per data dir does (the app, serve or the daemon, whichever
   * started first): the others see its lock and only serve run-now, trying again each minute.
   */
  async startScheduler(): Promise<{ leader: boolean }> {
    await this.init();
    if (this.scheduler || this.closed) return { leader: this.scheduler !== undefined };
    try {
      this.releaseLeader = await lockVmFolder(path.join(this.ctx.dataDir, 'scheduler.lock'), 'the Sluice scheduler');
    } catch (err) {
      if (!(err instanceof SluiceError) || err.code !== 'CONFLICT') throw err;
      this.log(
        'info',
        `Schedules are run by another Sluice process on this data dir (${err.message.replace(/^.*in use/, 'lock held')}); this one runs jobs on request only.`,
      );
      this.cancelLeaderRetry = this.clock.setTimer(60_000, () => void this.startScheduler().catch(() => {}));
      return { leader: false };
    }
    const state = new SchedulerState(this.ctx.dataDir);
    await state.load();
    this.scheduler = new JobScheduler({
      clock: this.clock,
      state,
      jobs: () => this.jobs(),
      onFire: (f) => void this.onFire(f),
      graceMs: this.opts.graceMs,
      onError: (err) => this.log('error', `Scheduler: ${(err as Error).message}`),
    });
    this.scheduler.start();
    return { leader: true };
  }

  private async onFire(f: ScheduledFire): Promise<void> {
    const { job, schedule } = f;
    const missedCount = f.kind === 'missed' ? f.alsoMissed + 1 : f.alsoMissed;
    const runMissed = job.missedRuns === 'run-at-start';
    if (missedCount > 0 && !(runMissed && f.kind === 'missed')) {
      await this.recordNotRun(
        job,
        schedule,
        f.scheduledFor,
        'missed',
        `${missedCount} scheduled run(s) of "${schedule.name || schedule.cron}" fell due while Sluice was not running (the last at ${f.scheduledFor.toISOString()}); ${runMissed ? 'a run starts now instead' : 'not run (the job reports missed runs rather than running them at start)'}.`,
      );
      if (f.kind === 'missed') return;
    }
    try {
      const trigger = f.kind === 'missed' ? 'missed' : 'schedule';
      await this.start(job.id, { trigger, scheduleId: schedule.id, scheduledFor: f.scheduledFor });
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'CONFLICT') {
        await this.recordNotRun(
          job,
          schedule,
          f.scheduledFor,
          'skipped',
          `Not started at ${f.scheduledFor.toISOString()}: ${err.message}`,
        );
      } else {
        this.log('error', `Job "${job.name}" could not start on schedule: ${(err as Error).message}`, {
          jobId: job.id,
        });
      }
    }
  }

  /** A fire that did not become a run still leaves a record, so the history has no silent holes. */
  private async recordNotRun(
    job: Job,
    schedule: JobSchedule,
    scheduledFor: Date,
    status: 'missed' | 'skipped',
    message: string,
  ): Promise<void> {
    const s = this.ctx.settings.get();
    const recorder = new RunRecorder(this.history, {
      runId: randomUUID(),
      job,
      trigger: 'schedule',
      scheduleId: schedule.id,
      scheduledFor,
      remotes: job.remoteIds.map((id) => ({ id, name: s.remotes.find((r) => r.id === id)?.name ?? id })),
      now: new Date(),
    });
    const summary = recorder.finish(new Date(), false);
    summary.status = status;
    summary.errors.push({ code: status === 'missed' ? 'MISSED' : 'CONFLICT', message });
    await this.history.write(summary);
    this.ctx.bus.emit('runs.finished', structuredClone(summary));
    this.log('warn', `Job "${job.name}": ${message}`, { jobId: job.id, runId: summary.runId });
    if (status === 'missed') this.notify('missed', `Backup missed: ${job.name}`, message, summary);
  }

  /** Stops the scheduler, cancels runs in progress (they clean up after themselves) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    this.scheduler?.stop();
    this.cancelLeaderRetry?.();
    for (const a of this.active.values()) a.controller.abort(new SluiceError('CANCELLED', 'Sluice is stopping.'));
    await Promise.allSettled([...this.finished]);
    await this.leftoversCleaned.catch(() => {});
    await this.releaseLeader?.();
  }
}

/** Log context of a run: its id, and its job's when it has one. */
function runContext(run: RunSummary): Record<string, string> {
  return { ...(run.jobId !== null ? { jobId: run.jobId } : {}), runId: run.runId };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
