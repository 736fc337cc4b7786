import { SluiceError } from '../errors/sluice-error.js';
import type { XapiSession } from './xapi-session.js';
import { XapiError } from './xapi-error.js';
import { taskRecordSchema, type TaskRecord } from './xapi-records.js';

/**
 * Waits for a host task to leave "pending" by polling its record. Polling keeps this independent of the
 * inventory's event loop; the host updates a task at most every few seconds anyway.
 */
export async function waitForTask(
  xapi: XapiSession,
  taskRef: string,
  opts: { signal?: AbortSignal; pollMs?: number; timeoutMs?: number; onPoll?: (task: TaskRecord) => void } = {},
): Promise<TaskRecord> {
  const deadline = Date.now() + (opts.timeoutMs ?? 24 * 3600_000);
  const poll = opts.pollMs ?? 200;
  for (;;) {
    const task = taskRecordSchema.parse(await xapi.call('task.get_record', taskRef));
    if (task.status !== 'pending' && task.status !== 'cancelling') return task;
    // The task's progress (0..1) as the host last reported it, for a caller that shows it.
    opts.onPoll?.(task);
    if (opts.signal?.aborted) throw new SluiceError('CANCELLED', 'Cancelled while waiting for a host task.');
    if (Date.now() > deadline)
      throw new SluiceError('HOST_ERROR', `The host task ${taskRef} did not finish in time.`, {
        hint: 'Check the task in XenCenter or XO.',
      });
    await new Promise((r) => setTimeout(r, poll));
  }
}

/** The task's failure as an XapiError (the first element of error_info is the code). */
export function taskFailure(task: TaskRecord, method: string): XapiError {
  const [code = 'UNKNOWN_ERROR', ...params] = task.error_info;
  return new XapiError(code, params, { method });
}

/**
 * After a failed transfer: stop the host task if it still runs, and when our error only says the bytes stopped
 * (a reset connection, a truncated tar or VHD), replace it with the host's own reason from its task.
 */
export async function hostCauseOfFailure(
  xapi: XapiSession,
  taskRef: string,
  err: unknown,
  method: string,
  isCut: (err: unknown) => boolean,
): Promise<unknown> {
  await xapi.call('task.cancel', taskRef).catch(() => {});
  if (!isCut(err)) return err;
  const task = await waitForTask(xapi, taskRef, { timeoutMs: 5000, pollMs: 100 }).catch(() => undefined);
  return task?.status === 'failure' ? taskFailure(task, method) : err;
}
