import { SluiceError } from '../errors/sluice-error.js';
import {
  deltaPointDisks,
  pickDisk,
  type BackupPoint,
  withNearestGoodPoint,
  openPointDisks,
} from '../repository/index.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { removeDeadRunLeftovers } from '../xapi/dead-run-leftovers.js';
import { restoreFullPointDisk } from './restore-full-disk.js';
import { uploadDisk } from './restore-delta-point.js';
import type { RestoredDisk, RestoreOptions } from './restore-options.js';
import { resolveTargetSr } from './restore-target.js';
import { abandonRestoreRun, startRestoreRun } from './restore-run.js';
import { createDiskFor } from './vm-recreate.js';

/**
 * Restores one disk of a point into a new VDI on the chosen SR (default: the pool's default SR), attached to
 * nothing: the admin plugs it where it is needed. `disk` is the disk's uuid or its position. A failure or a
 * cancel destroys the new VDI.
 */
export async function restoreDisk(
  xapi: XapiSession,
  point: BackupPoint,
  disk: string,
  opts: RestoreOptions,
): Promise<RestoredDisk & { durationMs: number }> {
  const started = performance.now();
  const context = { host: new URL(xapi.url).host, vm: point.vmName, point: point.id };
  await removeDeadRunLeftovers(xapi, opts.log, context);
  try {
    const r =
      point.mode === 'full'
        ? await restoreFullPointDisk(xapi, point, disk, opts)
        : await restoreDeltaDisk(xapi, point, disk, opts, context);
    opts.log(
      'info',
      `Restored disk "${r.name}" (position ${r.position}) of ${point.vmName} ${point.id} as VDI ${r.vdiUuid}.`,
      context,
    );
    return { ...r, durationMs: performance.now() - started };
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof SluiceError && err.code === 'CANCELLED')) {
      throw new SluiceError(
        'CANCELLED',
        `The restore of a disk of ${point.vmName} ${point.id} was cancelled; the new VDI was removed.`,
        { context, cause: err },
      );
    }
    throw opts.points ? await withNearestGoodPoint(err, opts.points, point, opts.signal) : err;
  }
}

async function restoreDeltaDisk(
  xapi: XapiSession,
  point: BackupPoint,
  wanted: string,
  opts: RestoreOptions,
  context: Record<string, string>,
): Promise<RestoredDisk> {
  const target = pickDisk(await deltaPointDisks(point), wanted, point);
  const run = startRestoreRun(
    xapi,
    opts,
    { uuid: point.vmUuid, name: point.vmName },
    { uuid: target.uuid, name: target.name },
  );
  const { sampler, throttle, created } = run;
  sampler.setPhase('verify');
  const [opened] = await openPointDisks(point, (d) => d.key === target.key).catch((err) => {
    sampler.stop('failed');
    throw err;
  });
  try {
    const sr = await resolveTargetSr(xapi, opts.srUuid, context);
    const vdiRef = await createDiskFor(
      xapi,
      { ...target, vdi: { ...target.vdi, name_label: opts.name ?? target.name } },
      sr.ref,
      undefined,
      created,
    );
    const bytes = await uploadDisk(xapi, opened!, vdiRef, opts, sampler, throttle, context);
    await created.keep();
    sampler.stop('done');
    return {
      vdiRef,
      vdiUuid: await xapi.call<string>('VDI.get_uuid', vdiRef),
      name: opts.name ?? target.name,
      position: target.position,
      srUuid: sr.record.uuid,
      bytes,
    };
  } catch (err) {
    await abandonRestoreRun(run, opts);
    throw err;
  } finally {
    await opened!.chain.close();
  }
}
