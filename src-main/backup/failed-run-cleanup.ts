import { SluiceError } from '../errors/sluice-error.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { BackupRunOptions } from './backup-options.js';
import { destroySnapshotWithDisks } from './host-snapshot.js';
import type { ProgressSampler } from '../transfer/progress-sampler.js';

/**
 * After a VM's backup failed or was cancelled: the snapshot it took is removed while the progress says
 * "cleanup" (so a cancel is seen cleaning up), then the run ends as failed or cancelled. The error said to the
 * user claims only the cleanup that happened: a snapshot that could not be removed is named, for the next
 * run (which removes leftovers) or the admin.
 */
export async function cleanUpFailedRun(
  xapi: XapiSession,
  snapRef: string | undefined,
  err: unknown,
  ctx: { vm: string } & Record<string, string>,
  sampler: ProgressSampler,
  opts: Pick<BackupRunOptions, 'log' | 'signal'>,
): Promise<unknown> {
  const cancelled = opts.signal?.aborted === true;
  let snapshotLeft = false;
  if (snapRef) {
    sampler.setPhase('cleanup');
    opts.log('info', 'Removing the backup snapshot from the host.', ctx);
    await destroySnapshotWithDisks(xapi, snapRef).catch((e: Error) => {
      snapshotLeft = true;
      opts.log('warn', `Could not remove the backup snapshot: ${e.message}. The next run removes it.`, ctx);
    });
  }
  sampler.stop(cancelled ? 'cancelled' : 'failed');
  if (cancelled) {
    const what = snapshotLeft
      ? 'its temporary files were removed, but its snapshot is still on the host (the next run removes it)'
      : 'its temporary files and snapshot were removed';
    return new SluiceError('CANCELLED', `The backup of ${ctx.vm} was cancelled; ${what}.`, {
      context: ctx,
      cause: err,
    });
  }
  return err;
}
