import { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError } from '../errors/sluice-error.js';
import { XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import {
  fullPointDisks,
  openPlainXva,
  xvaDiskRaw,
  xvaPathOf,
  pickDisk,
  type BackupPoint,
} from '../repository/index.js';
import { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { uploadToHost } from './disk-upload.js';
import type { RestoredDisk, RestoreOptions } from './restore-options.js';
import { resolveTargetSr } from './restore-target.js';
import { CreatedObjects } from './vm-recreate.js';

/** One disk of a full point into a new VDI: its chunks read out of the XVA (checked) and sent raw. */
export async function restoreFullPointDisk(
  xapi: XapiSession,
  point: BackupPoint,
  wanted: string,
  opts: RestoreOptions,
): Promise<RestoredDisk> {
  const context = { host: new URL(xapi.url).host, vm: point.vmName, point: point.id };
  const { disks } = await fullPointDisks(point);
  const target = pickDisk(disks, wanted, point);
  const name = opts.name ?? target.name;
  const sampler = new ProgressSampler(
    {
      runId: opts.runId,
      vm: { uuid: point.vmUuid, name: point.vmName },
      disk: { uuid: target.id, name: target.name },
      spoolCapBytes: opts.spoolCapBytes,
    },
    opts.onProgress,
  );
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  const created = new CreatedObjects(xapi, opts.runId);
  sampler.start();
  try {
    const sr = await resolveTargetSr(xapi, opts.srUuid, context);
    const vdiRef = await xapi.call<string>('VDI.create', {
      name_label: name,
      name_description: '',
      SR: sr.ref,
      virtual_size: String(target.virtualSize),
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: created.mark(),
      xenstore_data: {},
      sm_config: {},
      tags: [],
    });
    created.record('VDI', vdiRef);
    const source = xvaDiskRaw(await openPlainXva(point, 'restore one disk'), target.id, target.virtualSize);
    const checked = (async function* () {
      try {
        yield* source;
      } catch (err) {
        if (err instanceof XvaVerifyError) {
          throw new SluiceError(
            'REMOTE_ERROR',
            `The backup ${point.vmName} ${point.id} is damaged: ${err.message}${err.entry ? ` in ${err.entry}` : ''} (byte ${err.offset})`,
            {
              hint: "This point cannot be restored safely; use another point, and check the remote's disk.",
              context: { ...context, ...(err.entry ? { entry: err.entry } : {}) },
              damage: { kind: err.damage, offset: err.offset, file: xvaPathOf(point) },
            },
          );
        }
        throw err;
      }
    })();
    await uploadToHost(
      xapi,
      {
        path: '/import_raw_vdi',
        query: { vdi: vdiRef, format: 'raw' },
        source: checked,
        length: target.virtualSize,
        label: 'Sluice restore disk',
        context: { ...context, disk: target.name },
      },
      opts,
      sampler,
      throttle,
    );
    await created.keep();
    sampler.stop('done');
    return {
      vdiRef,
      vdiUuid: await xapi.call<string>('VDI.get_uuid', vdiRef),
      name,
      position: target.position,
      srUuid: sr.record.uuid,
      bytes: target.virtualSize,
    };
  } catch (err) {
    sampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    await created.destroy(opts.log);
    throw err;
  }
}
