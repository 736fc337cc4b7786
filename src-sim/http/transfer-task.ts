import { XapiError, VDI_IO_ERROR } from '../model/xapi-error.js';
import type { TransferHandle, TransferKind } from '../transfer-stats.js';
import type { HttpExchange } from './exchange.js';
import type { HostContext } from './host-context.js';

/** Task progress is written at most this often: each write is an event every watcher receives. */
const PROGRESS_INTERVAL_MS = 200;

export interface TransferTask {
  readonly ref: string;
  /** Aborts when the task is cancelled or the client goes away. */
  readonly signal: AbortSignal;
  readonly stats: TransferHandle;
  progress(fraction: number): void;
  succeed(result?: string): void;
  fail(error: unknown): void;
}

/**
 * The task of one transfer: the caller's (task_id query parameter) when given, as xapi reports on it, else a
 * new one. Ends in success or failure with error_info, and records the transfer in the stats.
 */
export function beginTransferTask(
  ctx: HostContext,
  ex: HttpExchange,
  kind: TransferKind,
  label: string,
  target: string,
): TransferTask {
  const { tasks } = ctx.state;
  const requested = ex.query.get('task_id');
  const ref = requested && tasks.exists(requested) ? requested : tasks.create(label);
  const taskSignal = tasks.begin(ref);
  const connection = new AbortController();
  const onClose = (): void => connection.abort(VDI_IO_ERROR());
  ex.socket.once('close', onClose);
  const stats = ctx.stats.begin(ctx.name, kind, target, ref);
  let lastProgress = 0;
  const finish = (): void => {
    ex.socket.off('close', onClose);
  };
  return {
    ref,
    signal: AbortSignal.any([taskSignal, connection.signal]),
    stats,
    progress(fraction) {
      const now = Date.now();
      if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
      lastProgress = now;
      tasks.setProgress(ref, Math.min(0.99, fraction));
    },
    succeed(result = '') {
      finish();
      tasks.succeed(ref, result);
      stats.finish('success');
    },
    fail(error) {
      finish();
      tasks.fail(ref, error);
      const info =
        tasks.status(ref) === 'cancelled'
          ? ['TASK_CANCELLED', ref]
          : error instanceof XapiError
            ? error.description
            : ['INTERNAL_ERROR', String(error)];
      stats.finish('failure', info);
    },
  };
}
