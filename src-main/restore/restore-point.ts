import { formatBytes } from '../../src-shared/units.js';
import { SluiceError } from '../errors/sluice-error.js';
import { type BackupPoint, withNearestGoodPoint } from '../repository/index.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { removeDeadRunLeftovers } from '../xapi/dead-run-leftovers.js';
import { diskVbdsOf } from '../xapi/vm-disk-vbds.js';
import { restoreDeltaPoint } from './restore-delta-point.js';
import { restoreFullPoint } from './restore-full-point.js';
import type { RestoredDisk, RestoreOptions, RestoreResult } from './restore-options.js';

/**
 * Restores any point of a repository to a pool as a new VM (engine entry point, for the CLI and the UI):
 * full points through PUT /import, incremental ones rebuilt from their metadata and VHD chains. Either way
 * the data is checked as it is read and a damaged point never completes: the error names the damage and the
 * nearest point that verifies clean. Nothing half-made stays on the host after a failure or a cancel.
 */
export async function restorePoint(
  xapi: XapiSession,
  point: BackupPoint,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  const started = performance.now();
  const context = { host: new URL(xapi.url).host, vm: point.vmName, point: point.id };
  await removeDeadRunLeftovers(xapi, opts.log, context);
  try {
    const r =
      point.mode === 'full' ? await restoreFullPoint(xapi, point, opts) : await restoreDeltaPoint(xapi, point, opts);
    let disks: RestoredDisk[];
    let bytes: number;
    if ('disks' in r) {
      disks = r.disks;
      bytes = disks.reduce((n, d) => n + d.bytes, 0);
    } else {
      disks = await vmDisks(xapi, r.vmRef);
      bytes = r.bytes;
    }
    r.sampler.setPhase('commit');
    let started_ = false;
    if (opts.start) {
      try {
        await xapi.call('VM.start', r.vmRef, false, false);
        started_ = true;
      } catch (err) {
        // The restore itself succeeded: keep the VM, say why it is not running.
        opts.log('warn', `${r.name} was restored but did not start: ${(err as Error).message}`, context);
      }
    }
    const vmUuid = await xapi.call<string>('VM.get_uuid', r.vmRef);
    r.sampler.stop('done');
    opts.log(
      'info',
      `Restored ${point.vmName} ${point.id} as "${r.name}" (${vmUuid}): ${disks.length} disk(s), ${formatBytes(bytes)} sent.`,
      context,
    );
    return {
      vmRef: r.vmRef,
      vmUuid,
      name: r.name,
      disks,
      bytes,
      started: started_,
      durationMs: performance.now() - started,
    };
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof SluiceError && err.code === 'CANCELLED')) {
      throw new SluiceError(
        'CANCELLED',
        `The restore of ${point.vmName} ${point.id} was cancelled; what it had created on the host was removed.`,
        { context, cause: err },
      );
    }
    throw opts.points ? await withNearestGoodPoint(err, opts.points, point, opts.signal) : err;
  }
}

/** The disks of an imported VM, each on the SR it ended on. */
async function vmDisks(xapi: XapiSession, vmRef: string): Promise<RestoredDisk[]> {
  const out: RestoredDisk[] = [];
  for (const { vbd } of await diskVbdsOf(xapi, vmRef)) {
    out.push({
      vdiRef: vbd.VDI,
      vdiUuid: await xapi.call<string>('VDI.get_uuid', vbd.VDI),
      name: await xapi.call<string>('VDI.get_name_label', vbd.VDI),
      position: vbd.userdevice,
      srUuid: await xapi.call<string>('SR.get_uuid', await xapi.call<string>('VDI.get_SR', vbd.VDI)),
      bytes: 0,
    });
  }
  return out.sort((a, b) => Number(a.position) - Number(b.position));
}
