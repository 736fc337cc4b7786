import { z } from 'zod';
import type { XapiSession } from './xapi-session.js';
import { parseRecordMap, parseTaskResultRefs } from './xapi-records.js';
import { currentOwner, ownerIn, ownerIsDead, type RunOwner } from './run-owner.js';
import { destroyMadeObject } from './owned-objects.js';

/**
 * other_config key on every host task Sluice creates: which run of which process on which machine owns it.
 * A host keeps a task until someone destroys it, so a killed process would leave its tasks (an export's
 * pending or failed task) for good; the next run knows them by this mark and whether their process lives.
 */
export const TASK_OWNER_KEY = 'sluice:task-owner';

const taskSchema = z
  .object({
    status: z.string(),
    result: z.string().default(''),
    other_config: z.record(z.string(), z.string()).default({}),
  })
  .passthrough();

/**
 * task.create, marked as this process's (for `runId`) before anything else uses it. With `madeResult`, what
 * the task makes (an import's VM) is removed should this process die before taking it over.
 */
export async function createOwnedTask(
  xapi: XapiSession,
  label: string,
  description: string,
  runId: string,
  extra: Pick<RunOwner, 'madeResult'> = {},
): Promise<string> {
  const ref = await xapi.call<string>('task.create', label, description);
  await markTaskOwned(xapi, ref, runId, extra);
  return ref;
}

/** Marks a task the host created for an Async call (a disk copy) as this run's. */
export async function markTaskOwned(
  xapi: XapiSession,
  ref: string,
  runId: string,
  extra: Pick<RunOwner, 'madeResult'> = {},
): Promise<void> {
  await xapi.call('task.add_to_other_config', ref, TASK_OWNER_KEY, JSON.stringify(currentOwner(runId, extra)));
}

/**
 * Cancels (when still pending) and destroys the tasks Sluice made whose owner `isDead` says is gone; a
 * finished task whose result was its run's to take over has that result removed first (the run died between
 * the host finishing and the run marking what it made). Returns how many tasks were destroyed; a task the
 * host refuses to destroy is left for the next run.
 */
export async function destroyDeadRunTasks(
  xapi: XapiSession,
  isDead: (owner: RunOwner) => boolean = ownerIsDead,
): Promise<number> {
  const tasks = parseRecordMap(taskSchema, await xapi.call('task.get_all_records'));
  let n = 0;
  for (const [ref, task] of tasks) {
    const owner = ownerIn(task.other_config, TASK_OWNER_KEY);
    if (!owner || !isDead(owner)) continue;
    if (task.status === 'pending') await xapi.call('task.cancel', ref).catch(() => {});
    if (task.status === 'success' && owner.madeResult)
      for (const made of parseTaskResultRefs(task.result)) await destroyMadeObject(xapi, made);
    const destroyed = await xapi.call('task.destroy', ref).then(
      () => true,
      () => false,
    );
    if (destroyed) n++;
  }
  return n;
}
