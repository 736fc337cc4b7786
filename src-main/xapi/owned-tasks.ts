import os from 'node:os';
import { z } from 'zod';
import { pidAlive } from '../core/pid-alive.js';
import type { XapiSession } from './xapi-session.js';
import { parseRecordMap } from './xapi-records.js';

/**
 * other_config key on every host task Sluice creates: which run of which process on which machine owns it.
 * A host keeps a task until someone destroys it, so a killed process would leave its tasks (an export's
 * pending or failed task) for good; the next run knows them by this mark and whether their process lives.
 */
export const TASK_OWNER_KEY = 'sluice:task-owner';

const ownerSchema = z.object({ runId: z.string(), pid: z.number().int(), hostname: z.string() });
export type TaskOwner = z.infer<typeof ownerSchema>;

const taskSchema = z
  .object({ status: z.string(), other_config: z.record(z.string(), z.string()).default({}) })
  .passthrough();

/** task.create, marked as this process's (for `runId`) before anything else uses it. */
export async function createOwnedTask(
  xapi: XapiSession,
  label: string,
  description: string,
  runId: string,
): Promise<string> {
  const ref = await xapi.call<string>('task.create', label, description);
  const owner: TaskOwner = { runId, pid: process.pid, hostname: os.hostname() };
  await xapi.call('task.add_to_other_config', ref, TASK_OWNER_KEY, JSON.stringify(owner));
  return ref;
}

function ownerOf(otherConfig: Record<string, string>): TaskOwner | undefined {
  const raw = otherConfig[TASK_OWNER_KEY];
  if (raw === undefined) return undefined;
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A task whose process is gone: on this machine with a pid that no longer runs. A task of another machine
 * is never judged from here (its process may well run).
 */
export function ownerIsDead(owner: TaskOwner): boolean {
  return owner.hostname === os.hostname() && owner.pid !== process.pid && !pidAlive(owner.pid);
}

/**
 * Cancels (when still pending) and destroys the tasks Sluice made whose owner `isDead` says is gone. Returns
 * how many were destroyed; a task the host refuses to destroy is left for the next run.
 */
export async function destroyDeadRunTasks(
  xapi: XapiSession,
  isDead: (owner: TaskOwner) => boolean = ownerIsDead,
): Promise<number> {
  const tasks = parseRecordMap(taskSchema, await xapi.call('task.get_all_records'));
  let n = 0;
  for (const [ref, task] of tasks) {
    const owner = ownerOf(task.other_config);
    if (!owner || !isDead(owner)) continue;
    if (task.status === 'pending') await xapi.call('task.cancel', ref).catch(() => {});
    const destroyed = await xapi.call('task.destroy', ref).then(
      () => true,
      () => false,
    );
    if (destroyed) n++;
  }
  return n;
}
