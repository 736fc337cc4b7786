import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { RestoreOptions } from './restore-options.js';
import { CreatedObjects } from './vm-recreate.js';

/** What a restore carries from its start: its progress line, its speed limit and the objects it has made. */
export interface RestoreRun {
  sampler: ProgressSampler;
  throttle: Throttle | undefined;
  created: CreatedObjects;
}

/** A restore of a VM (`disk` null) or of one disk begins: its progress line starts, nothing is made yet. */
export function startRestoreRun(
  xapi: XapiSession,
  opts: Pick<RestoreOptions, 'runId' | 'spoolCapBytes' | 'speedLimitBytesPerSec' | 'onProgress'>,
  vm: TransferProgress['vm'],
  disk: TransferProgress['disk'],
): RestoreRun {
  const sampler = new ProgressSampler(
    { runId: opts.runId, vm, disk, spoolCapBytes: opts.spoolCapBytes },
    opts.onProgress,
  );
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  const created = new CreatedObjects(xapi, opts.runId);
  sampler.start();
  return { sampler, throttle, created };
}

/** A restore that failed or was cancelled: its progress line says which, and what it made is destroyed. */
export async function abandonRestoreRun(run: RestoreRun, opts: Pick<RestoreOptions, 'signal' | 'log'>): Promise<void> {
  run.sampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
  await run.created.destroy(opts.log);
}
