import type { RepositoryRoot } from './repository-keys.js';
import type { RetentionPolicy } from './retention-plan.js';
import type { CollapseOptions } from './chain-collapser.js';
import { deleteBackupPoint, type DeletedPoint } from './point-deleter.js';
import { listVmPoints } from './repository-reader.js';
import { planRetention, type RetentionPlan } from './retention-plan.js';

export interface RetentionOutcome {
  kept: RetentionPlan['keep'];
  deleted: DeletedPoint[];
}

/** Whose points a retention counts: one job's, of one mode, and of one schedule when the run has one. */
export interface RetentionScope {
  jobId: string;
  mode: 'full' | 'delta';
  scheduleId?: string | undefined;
}

/**
 * Applies a job's retention to one VM folder, under the caller's lock on that folder: plans over the points of
 * its scope only (other jobs', modes' and schedules' points are theirs), then deletes oldest first, which is
 * the order a delta chain folds in. Stops at the first point that cannot be deleted safely; what was deleted
 * before stays deleted.
 */
export async function applyRetention(
  root: RepositoryRoot,
  vmUuid: string,
  scope: RetentionScope,
  policy: RetentionPolicy,
  opts: CollapseOptions = {},
): Promise<RetentionOutcome> {
  // Retention is per schedule and mode, as in XO: a daily schedule keeping 7 and a weekly one keeping 4 each
  // count only their own points (a delta chain may still run across both; deleting merges into the next
  // point), and a delta run never deletes a full point, nor another job's.
  const { jobId, mode, scheduleId } = scope;
  const points = (await listVmPoints(root, vmUuid)).points.filter(
    (p) => p.jobId === jobId && p.mode === mode && (!scheduleId || p.metadata.scheduleId === scheduleId),
  );
  const plan = planRetention(
    points.map((p) => ({ id: p.id, timestamp: p.timestamp.getTime(), tags: p.metadata.tags })),
    policy,
  );
  const deleted: DeletedPoint[] = [];
  for (const id of plan.remove) {
    const point = points.find((p) => p.id === id)!;
    opts.log?.(
      `Retention: deleting point ${id} of ${point.vmName}${point.mode === 'delta' ? ' (its disks are merged into the next point)' : ''}.`,
    );
    deleted.push(await deleteBackupPoint(root, point, opts));
  }
  return { kept: plan.keep, deleted };
}
