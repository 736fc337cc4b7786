import os from 'node:os';
import { z } from 'zod';
import { pidAlive } from '../core/pid-alive.js';

/**
 * Which run of which process on which machine made something on a host (a task, a half-restored VM): the
 * host keeps such things until someone destroys them, so a process killed mid-way leaves them for good
 * unless the next run can tell they are a dead process's. `madeResult` marks a task whose result (the VM of
 * an import, the VDI of a copy) is that run's to remove when the run died before taking it over.
 */
const ownerSchema = z.object({
  runId: z.string(),
  pid: z.number().int(),
  hostname: z.string(),
  madeResult: z.boolean().optional(),
});
export type RunOwner = z.infer<typeof ownerSchema>;

export function currentOwner(runId: string, extra: Pick<RunOwner, 'madeResult'> = {}): RunOwner {
  return { runId, pid: process.pid, hostname: os.hostname(), ...extra };
}

/** The owner recorded under `key` in an other_config map; undefined when absent or not ours to read. */
export function ownerIn(otherConfig: Record<string, string>, key: string): RunOwner | undefined {
  const raw = otherConfig[key];
  if (raw === undefined) return undefined;
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A process that is gone: on this machine with a pid that no longer runs. Another machine's is never judged
 * from here (its process may well run).
 */
export function ownerIsDead(owner: RunOwner): boolean {
  return owner.hostname === os.hostname() && owner.pid !== process.pid && !pidAlive(owner.pid);
}
