import type { BackupLog } from '../core/run-log.js';
import { destroyDeadRunObjects } from './owned-objects.js';
import { destroyDeadRunTasks } from './owned-tasks.js';
import type { XapiSession } from './xapi-session.js';

/**
 * What Sluice processes that died left on this pool: their host tasks (an export's task stays pending or
 * failed until destroyed) and what their restores had half-made. Run before each backup and each restore, so
 * a kill is mended by the next run on the pool. Never fails that run: what cannot be removed now is tried
 * again next time.
 */
export async function removeDeadRunLeftovers(
  xapi: XapiSession,
  log: BackupLog,
  ctx: Record<string, string>,
): Promise<void> {
  try {
    // Tasks first: a finished import's task is what names a VM its dead run had no time to mark.
    const tasks = await destroyDeadRunTasks(xapi);
    if (tasks) log('info', `Destroyed ${tasks} host task(s) left by Sluice runs that did not finish.`, ctx);
    const objects = await destroyDeadRunObjects(xapi);
    if (objects)
      log('info', `Removed ${objects} VM(s) or disk(s) half-made by a Sluice restore that did not finish.`, ctx);
  } catch (err) {
    log(
      'warn',
      `Could not remove what earlier Sluice runs left on the host: ${(err as Error).message}. The next run tries again.`,
      ctx,
    );
  }
}
