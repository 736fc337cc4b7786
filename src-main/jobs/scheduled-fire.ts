import { randomUUID } from 'node:crypto';
import type { Job, JobSchedule } from '../../src-shared/contract/jobs.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { ScheduledFire } from './job-scheduler.js';
import type { JobNotices } from './job-notices.js';
import { namedRemotes, type RunHow } from './job-run-lifecycle.js';
import type { RunHistory } from './run-history.js';
import { RunRecorder } from './run-recorder.js';
import type { JobsContext } from './jobs-context.js';

export interface FireDeps {
  ctx: JobsContext;
  history: RunHistory;
  notices: JobNotices;
  start: (jobId: string, how: RunHow) => Promise<unknown>;
}

/**
 * What a schedule's fire becomes: a run, or (missed while Sluice was down, or the job still running) a record
 * saying why not, so the history has no silent holes.
 */
export async function handleFire(deps: FireDeps, f: ScheduledFire): Promise<void> {
  const { job, schedule } = f;
  const missedCount = f.kind === 'missed' ? f.alsoMissed + 1 : f.alsoMissed;
  const runMissed = job.missedRuns === 'run-at-start';
  if (missedCount > 0 && !(runMissed && f.kind === 'missed')) {
    await recordNotRun(
      deps,
      { job, schedule, scheduledFor: f.scheduledFor },
      'missed',
      `${missedCount} scheduled run(s) of "${schedule.name || schedule.cron}" fell due while Sluice was not running (the last at ${f.scheduledFor.toISOString()}); ${runMissed ? 'a run starts now instead' : 'not run (the job reports missed runs rather than running them at start)'}.`,
    );
    if (f.kind === 'missed') return;
  }
  try {
    const trigger = f.kind === 'missed' ? 'missed' : 'schedule';
    await deps.start(job.id, { trigger, scheduleId: schedule.id, scheduledFor: f.scheduledFor });
  } catch (err) {
    if (err instanceof SluiceError && err.code === 'CONFLICT') {
      await recordNotRun(
        deps,
        { job, schedule, scheduledFor: f.scheduledFor },
        'skipped',
        `Not started at ${f.scheduledFor.toISOString()}: ${err.message}`,
      );
    } else {
      deps.notices.log('error', `Job "${job.name}" could not start on schedule: ${(err as Error).message}`, {
        jobId: job.id,
      });
    }
  }
}

async function recordNotRun(
  deps: FireDeps,
  fire: { job: Job; schedule: JobSchedule; scheduledFor: Date },
  status: 'missed' | 'skipped',
  message: string,
): Promise<void> {
  const { job } = fire;
  const recorder = new RunRecorder(deps.history, {
    runId: randomUUID(),
    job,
    trigger: 'schedule',
    scheduleId: fire.schedule.id,
    scheduledFor: fire.scheduledFor,
    remotes: namedRemotes(job, deps.ctx.settings.get()),
    now: new Date(),
  });
  const summary = recorder.finish(new Date(), false);
  summary.status = status;
  summary.errors.push({ code: status === 'missed' ? 'MISSED' : 'CONFLICT', message });
  await deps.history.write(summary);
  deps.ctx.bus.emit('runs.finished', structuredClone(summary));
  deps.notices.log('warn', `Job "${job.name}": ${message}`, { jobId: job.id, runId: summary.runId });
  if (status === 'missed') deps.notices.notify('missed', `Backup missed: ${job.name}`, message, summary);
}
