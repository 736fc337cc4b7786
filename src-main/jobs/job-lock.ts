import path from 'node:path';
import type { Job } from '../../src-shared/contract/jobs.js';
import { lockDirectory, type ReleaseLock } from '../core/directory-lock.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { RunHistory } from './run-history.js';

/**
 * One run of a job at a time across the Sluice processes of a data dir (`job-locks/<jobId>.lock`). Held
 * elsewhere: CONFLICT, naming the run that holds it when the history knows it.
 */
export async function lockJob(dataDir: string, job: Job, history: RunHistory): Promise<ReleaseLock> {
  try {
    return await lockDirectory(path.join(dataDir, 'job-locks', `${job.id}.lock`), { purpose: `job "${job.name}"` });
  } catch (err) {
    if (!(err instanceof SluiceError) || err.code !== 'CONFLICT') throw err;
    const other = (await history.list({ jobId: job.id, limit: 20 })).find((r) => r.status === 'running');
    throw alreadyRunning(job, other?.runId ?? null, other?.startedAt ?? null, 'another Sluice process');
  }
}

export function alreadyRunning(job: Job, runId: string | null, since: string | null, where: string): SluiceError {
  return new SluiceError(
    'CONFLICT',
    `Job "${job.name}" is already running${runId ? ` (run ${runId}, started ${since}, in ${where})` : ` (in ${where})`}; it was not started a second time.`,
    {
      hint: 'Wait for that run to finish, or cancel it, then run the job again.',
      context: { job: job.name },
    },
  );
}
