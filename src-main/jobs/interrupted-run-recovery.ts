import os from 'node:os';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import { pidAlive } from '../core/pid-alive.js';
import { cleanRemoteLeftovers, destroySnapshotsOfRun, destroyTasksOfRun } from './interrupted-run-cleanup.js';
import { runContext, type JobNotices } from './job-notices.js';
import type { RunHistory } from './run-history.js';
import { runTitle } from './run-summary-text.js';
import type { JobsContext, PoolSessions } from './jobs-context.js';

export interface RecoveryDeps {
  ctx: JobsContext;
  pools: PoolSessions;
  history: RunHistory;
  notices: JobNotices;
  /** Whether this process runs that run (its record says "running" rightly). */
  isActive: (runId: string) => boolean;
}

/**
 * Runs left "running" by a process that died (on this machine: its pid is gone) are marked interrupted,
 * announced and notified; returns them, for cleanLeftovers.
 */
export async function recoverInterruptedRuns(deps: RecoveryDeps): Promise<RunSummary[]> {
  const host = os.hostname();
  const recovered = await deps.history.recoverInterrupted(
    (run, owner) =>
      deps.isActive(run.runId) || owner.hostname !== host || (owner.pid !== process.pid && pidAlive(owner.pid)),
    new Date(),
  );
  for (const run of recovered) {
    deps.ctx.bus.emit('runs.finished', run);
    deps.notices.log(
      'warn',
      `The run of ${runTitle(run)} started at ${run.startedAt} was interrupted (Sluice stopped during it).`,
      runContext(run),
    );
    deps.notices.notify(
      'interrupted',
      `Backup interrupted: ${run.jobName}`,
      `The run started at ${run.startedAt} did not finish (Sluice stopped during it). ${run.jobId === null ? 'Back the VM up again.' : 'Run the job again.'}`,
      run,
    );
  }
  return recovered;
}

/** Removes what interrupted runs left: temp files on their remotes, snapshots on their pool. Never throws. */
export async function cleanLeftovers(deps: RecoveryDeps, runs: RunSummary[]): Promise<void> {
  const s = deps.ctx.settings.get();
  const paths = new Map(s.remotes.map((r) => [r.id, r.path]));
  for (const run of runs) {
    try {
      const removed = await cleanRemoteLeftovers(run, paths);
      if (removed.length)
        deps.notices.log(
          'info',
          `Removed ${removed.length} leftover file(s) of the interrupted run ${run.runId}.`,
          runContext(run),
        );
      // A "Back up now" run names its pool; a job run's pool is its job's.
      const hostId = run.hostId ?? s.jobs.find((j) => j.id === run.jobId)?.hostId;
      if (hostId && s.hosts.some((h) => h.id === hostId) && run.vms.some((v) => v.startedAt !== null)) {
        const xapi = await deps.pools.session(hostId);
        const n = await destroySnapshotsOfRun(xapi, run.runId);
        if (n)
          deps.notices.log(
            'info',
            `Destroyed ${n} snapshot(s) the interrupted run ${run.runId} left on the pool.`,
            runContext(run),
          );
        const tasks = await destroyTasksOfRun(xapi, run.runId);
        if (tasks)
          deps.notices.log(
            'info',
            `Destroyed ${tasks} host task(s) the interrupted run ${run.runId} left on the pool.`,
            runContext(run),
          );
      }
    } catch (err) {
      deps.notices.log(
        'warn',
        `Could not clean up after the interrupted run ${run.runId}: ${(err as Error).message}. The next run on that VM does it.`,
        runContext(run),
      );
    }
  }
}
