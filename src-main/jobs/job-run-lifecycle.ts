import { randomUUID } from 'node:crypto';
import type { Job, JobSchedule } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import type { ReleaseLock } from '../core/directory-lock.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Settings } from '../settings/settings-schema.js';
import type { ActiveRun, ActiveRuns } from './active-runs.js';
import { alreadyRunning, lockJob } from './job-lock.js';
import { executeJobRun, type BackupFunctions } from './job-run.js';
import { executeMirrorJobRun } from './mirror-job-run.js';
import type { JobNotices } from './job-notices.js';
import type { RunHistory } from './run-history.js';
import { RunRecorder } from './run-recorder.js';
import type { JobsContext, PoolSessions } from './jobs-context.js';

export interface RunHow {
  trigger: RunSummary['trigger'];
  scheduleId?: string;
  scheduledFor?: Date;
}

export interface JobRunsDeps {
  ctx: JobsContext;
  pools: PoolSessions;
  history: RunHistory;
  notices: JobNotices;
  active: ActiveRuns;
  backup: BackupFunctions;
  retry?: BackupRunOptions['retry'];
  /** The service's one-time start (recovery of interrupted runs), awaited before a run is recorded. */
  ready: () => Promise<void>;
}

/** The remotes a run records, by id and (as they are named now) name. */
export function namedRemotes(job: Job, settings: Settings): RunSummary['remotes'] {
  return job.remoteIds.map((id) => namedRemote(id, settings));
}

function namedRemote(id: string, settings: Settings): { id: string; name: string } {
  return { id, name: settings.remotes.find((r) => r.id === id)?.name ?? id };
}

/**
 * Starts a run of a job (resolves once it is under way, with its end as `done`). A job already running, here or
 * in another Sluice process of this data dir, is not started twice: CONFLICT, saying which run holds it.
 */
export async function startJobRun(
  deps: JobRunsDeps,
  job: Job,
  how: RunHow,
): Promise<{ runId: string; done: Promise<RunSummary> }> {
  const holder = deps.active.ofJob(job.id);
  if (holder) throw alreadyRunning(job, holder.runId, holder.startedAt.toISOString(), 'this Sluice');
  // Claimed before the first await: two quick clicks cannot both pass the check above.
  const run = deps.active.claim(job.id, randomUUID());
  let release: ReleaseLock | undefined;
  try {
    await deps.ready();
    release = await lockJob(deps.ctx.dataDir, job, deps.history);
    const schedule = pickSchedule(job, how.scheduleId);
    const recorder = new RunRecorder(deps.history, {
      runId: run.runId,
      job,
      trigger: how.trigger,
      scheduleId: schedule?.id ?? null,
      scheduledFor: how.scheduledFor ?? null,
      remotes: namedRemotes(job, deps.ctx.settings.get()),
      ...(job.mirrorFrom ? { mirrorFrom: namedRemote(job.mirrorFrom, deps.ctx.settings.get()) } : {}),
      now: run.startedAt,
    });
    await recorder.save(true);
    deps.ctx.bus.emit('runs.started', structuredClone(recorder.summary));
    deps.notices.log(
      'info',
      `Job "${job.name}" started (${how.trigger === 'manual' ? 'run by hand' : how.trigger === 'missed' ? 'a missed run, run at start' : 'on schedule'}).`,
      { jobId: job.id, runId: run.runId },
    );
    const releaseLock = release;
    const done = (async () => {
      let summary: RunSummary;
      try {
        summary = await execute(deps, job, schedule, recorder, run);
      } finally {
        // Free before anyone hears of the end: a run started on the news must not find the job still held.
        deps.active.free(job.id);
        await releaseLock();
      }
      deps.notices.runEnded(job, summary);
      return summary;
    })();
    deps.active.track(done);
    return { runId: run.runId, done };
  } catch (err) {
    deps.active.free(job.id);
    await release?.();
    throw err;
  }
}

async function execute(
  deps: JobRunsDeps,
  job: Job,
  schedule: JobSchedule | null,
  recorder: RunRecorder,
  run: ActiveRun,
): Promise<RunSummary> {
  const ctxFor = (extra?: Record<string, string>) => ({ jobId: job.id, runId: run.runId, ...extra });
  const summary = await (job.mirrorFrom !== undefined ? executeMirrorJobRun : executeJobRun)({
    job,
    schedule,
    settings: deps.ctx.settings.get(),
    recorder,
    signal: run.signal,
    session: (hostId) => deps.pools.session(hostId),
    backup: deps.backup,
    now: () => new Date(),
    retry: deps.retry,
    dataDir: deps.ctx.dataDir,
    log: (level, message, context) => {
      if (level === 'warn') recorder.warn(message, new Date(), context);
      deps.notices.log(level, message, ctxFor(context));
    },
    onProgress: (p) => {
      recorder.progress(p, new Date());
      deps.ctx.bus.emit('backup.progress', p);
    },
  });
  await recorder.save(true);
  await deps.history.prune(job.id).catch(() => 0);
  return summary;
}

/** The schedule a run counts for (its retention applies): the one that fired, else the job's first enabled one. */
function pickSchedule(job: Job, scheduleId: string | undefined): JobSchedule | null {
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
