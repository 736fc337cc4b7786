import type { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { BlockPool } from '../core/block-pool.js';
import type { Throttle } from '../transfer/throttle.js';
import { Transfer } from '../transfer/transfer-pipeline.js';
import { openHostUpload, type HostUpload } from '../xapi/http-upload.js';
import { taskFailure, waitForTask } from '../xapi/task-waiter.js';
import { createOwnedTask } from '../xapi/owned-tasks.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { RestoreOptions } from './restore-options.js';

export interface UploadSpec {
  /** '/import' or '/import_raw_vdi'. */
  path: string;
  query: Record<string, string>;
  source: AsyncIterable<Buffer>;
  length: number;
  /** Sees every byte before it leaves (verifiers); throwing stops the upload before the damaged bytes go. */
  inspect?: (chunk: Buffer) => void;
  /** Runs after the last byte is read and before the body is ended: a late check can still stop the host. */
  beforeFinish?: () => Promise<void> | void;
  /**
   * The host finished the task although we refused the upload (it had every byte before a late check failed):
   * what it made, for the caller to remove.
   */
  onRefusedResult?: (taskResult: string) => Promise<unknown>;
  /** The pool the source's chunks come from, if any: each goes back to it once the socket has taken it. */
  pool?: BlockPool;
  label: string;
  context: Record<string, string>;
}

/**
 * How far reading the repository may run ahead of the host. A backup's buffer is sized so the host never waits
 * on us; here the source is our own files, which simply wait when the host is slower, so a few blocks of
 * read-ahead hide the disk's latency and the settings' larger buffer would only cost memory.
 */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/**
 * One upload to the host through the transfer pipeline (bounded buffer, speed limit, live counters): the
 * same flow control as a backup, reversed. Runs under our own task, so a cancel or a failure on our side
 * cancels the host's work too, and the host's reason is reported when the connection is cut. Returns the
 * task's result (the new refs).
 */
export async function uploadToHost(
  xapi: XapiSession,
  spec: UploadSpec,
  opts: Pick<RestoreOptions, 'runId' | 'memoryBufferBytes' | 'spoolDir' | 'spoolCapBytes' | 'signal'>,
  sampler: ProgressSampler,
  throttle: Throttle | undefined,
): Promise<string> {
  // Owned, with its result: a restore killed once the host has finished leaves this task naming what it made.
  const taskRef = await createOwnedTask(xapi, spec.label, spec.context.vm ?? '', opts.runId, { madeResult: true });
  let upload: HostUpload | undefined;
  try {
    upload = await openHostUpload(
      xapi,
      spec.path,
      { ...spec.query, task_id: taskRef },
      { contentLength: spec.length, signal: opts.signal, context: spec.context },
    );
    const sink = upload;
    const transfer = new Transfer({
      source: spec.source,
      sink,
      buffer: {
        memoryCapBytes: Math.min(opts.memoryBufferBytes, READ_AHEAD_BYTES),
        spoolCapBytes: opts.spoolCapBytes,
        spoolDir: opts.spoolDir,
      },
      throttle,
      signal: opts.signal,
      inspect: spec.inspect,
      pool: spec.pool,
      onFailure: (e) => sink.abort(e),
    });
    sampler.totalBytes = spec.length;
    sampler.restart(1, transfer.counters);
    sampler.setPhase('transfer');
    await transfer.run();
    await spec.beforeFinish?.();
    await upload.finish();
    const task = await waitForTask(xapi, taskRef, { signal: opts.signal, timeoutMs: 10 * 60_000 });
    if (task.status !== 'success') throw taskFailure(task, spec.path.slice(1));
    return task.result;
  } catch (err) {
    upload?.abort(err);
    const { error, task } = await hostReason(xapi, taskRef, err, spec, opts.signal);
    if (task?.status === 'success') await spec.onRefusedResult?.(task.result).catch(() => {});
    throw error;
  } finally {
    await xapi.call('task.destroy', taskRef).catch(() => {});
  }
}

/**
 * After a failed upload: the host's task must end (so whatever it half-made is rolled back before we clean
 * up): cancelled when the failure is ours, awaited when the host cut us off, whose reason is then reported.
 */
async function hostReason(
  xapi: XapiSession,
  taskRef: string,
  err: unknown,
  spec: UploadSpec,
  signal: AbortSignal | undefined,
): Promise<{ error: unknown; task: Awaited<ReturnType<typeof waitForTask>> | undefined }> {
  const ours =
    signal?.aborted === true ||
    (err instanceof SluiceError && err.damage?.kind !== 'truncated' && err.code !== 'HOST_UNREACHABLE');
  // A connection the host cut: the host is failing the task itself; give it a moment to say why, rather than
  // cancelling over its reason.
  let task = ours
    ? undefined
    : await waitForTask(xapi, taskRef, { timeoutMs: 5000, pollMs: 100 }).catch(() => undefined);
  if (!task) {
    await xapi.call('task.cancel', taskRef).catch(() => {});
    task = await waitForTask(xapi, taskRef, { timeoutMs: 30_000, pollMs: 100 }).catch(() => undefined);
  }
  if (signal?.aborted)
    return {
      error: new SluiceError('CANCELLED', 'The restore was cancelled.', { context: spec.context, cause: err }),
      task,
    };
  if (!ours && task?.status === 'failure') return { error: taskFailure(task, spec.path.slice(1)), task };
  return { error: err, task };
}
