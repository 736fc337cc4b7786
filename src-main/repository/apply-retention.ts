import type { RetentionPolicy } from './retention-plan.js';
import type { CollapseOptions } from './chain-collapser.js';
import { deleteBackupPoint, type DeletedPoint } from './point-deleter.js';
import { listVmPoints } from './repository-reader.js';
import { planRetention, type RetentionPlan } from './retention-plan.js';

export interface RetentionOutcome {
  kept: RetentionPlan['keep'];
  deleted: DeletedPoint[];
}

/**
 * Applies a job's retention to one VM folder, under the caller's lock on that folder: plans over the points of
 * this job only (other jobs' points are theirs), then deletes oldest first, which is the order a delta chain
 * folds in. Stops at the first point that cannot be deleted safely; what was deleted before stays deleted.
 */
export async function applyRetention(
  root: string,
  vmUuid: string,
  jobId: string,
  policy: RetentionPolicy,
  opts: CollapseOptions = {},
  scheduleId?: string,
): Promise<RetentionOutcome> {
  // Retention is per schedule, as in XO: a daily schedule keeping 7 and a weekly one keeping 4 each count
  // only their own points (a delta chain may still run across both; deleting merges into the next point).
  const points = (await listVmPoints(root, vmUuid)).points.filter(
    (p) => p.jobId === jobId && (!scheduleId || p.metadata.scheduleId === scheduleId),
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
