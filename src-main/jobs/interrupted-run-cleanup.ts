import { BACKUP_NOW_JOB_ID, type RunSummary } from '../../src-shared/contract/runs.js';
import { BACKUP_RUN_KEY, DELTA_BASE_KEY, destroySnapshotWithDisks, PENDING_BASE_KEY } from '../backup/host-snapshot.js';
import { BackupFolder } from '../repository/index.js';
import { destroyDeadRunTasks } from '../xapi/owned-tasks.js';
import { ownerIsDead } from '../xapi/run-owner.js';
import { parseRecordMap, vmRecordSchema } from '../xapi/xapi-records.js';
import type { XapiSession } from '../xapi/xapi-session.js';

/**
 * What a run that died may have left on a remote: temp files of the point it was writing (in the VM folder,
 * and VHD temp files under vdis/<jobId>/). Done under the VM folder's lock; a folder another run holds is
 * left for that run's own clean pass. Returns the paths removed.
 */
export async function cleanRemoteLeftovers(run: RunSummary, remotePaths: Map<string, string>): Promise<string[]> {
  const removed: string[] = [];
  const touched = run.vms.filter((v) => v.startedAt !== null && v.status !== 'success');
  for (const v of touched) {
    const root = remotePaths.get(v.remoteId);
    if (!root) continue;
    const folder = await BackupFolder.open(root, v.vmUuid).catch(() => undefined);
    if (!folder || !(await folder.exists())) continue;
    let release: (() => Promise<void>) | undefined;
    try {
      release = await folder.lock(`Sluice clean-up after interrupted run ${run.runId}`);
    } catch {
      continue;
    }
    try {
      const report = await folder.cleanFullLeftovers();
      removed.push(...[...report.removedTemporary, ...report.removedOrphans].map((n) => folder.pathOf(n)));
      removed.push(...(await folder.removeDeltaTemporaries(run.jobId ?? BACKUP_NOW_JOB_ID)));
    } finally {
      await release();
    }
  }
  return removed;
}

/**
 * Snapshots the dead run took (marked with its id) and never destroyed. A delta base, or a delta snapshot
 * that may have become one (its point's metadata may have been written before the kill), is left for the
 * job's next run, which settles it against the remote.
 */
export async function destroySnapshotsOfRun(xapi: XapiSession, runId: string): Promise<number> {
  const all = parseRecordMap(vmRecordSchema, await xapi.call('VM.get_all_records'));
  let n = 0;
  for (const [ref, r] of all) {
    const deltaJob = r.other_config[DELTA_BASE_KEY] ?? r.other_config[PENDING_BASE_KEY];
    if (!r.is_a_snapshot || r.other_config[BACKUP_RUN_KEY] !== runId || deltaJob !== undefined) continue;
    await destroySnapshotWithDisks(xapi, ref);
    n++;
  }
  return n;
}

/** The host tasks the dead run created (an export's task stays on the host until destroyed), and any other dead process's. */
export function destroyTasksOfRun(xapi: XapiSession, runId: string): Promise<number> {
  return destroyDeadRunTasks(xapi, (owner) => owner.runId === runId || ownerIsDead(owner));
}
