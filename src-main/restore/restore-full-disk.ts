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
import type { XapiSession } from '../xapi/xapi-session.js';
import { uploadToHost } from './disk-upload.js';
import type { RestoredDisk, RestoreOptions } from './restore-options.js';
import { abandonRestoreRun, startRestoreRun } from './restore-run.js';
import { resolveTargetSr } from './restore-target.js';
import type { CreatedObjects } from './vm-recreate.js';

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
  const run = startRestoreRun(
    xapi,
    opts,
    { uuid: point.vmUuid, name: point.vmName },
    { uuid: target.id, name: target.name },
  );
  const { sampler, throttle, created } = run;
  try {
    const sr = await resolveTargetSr(xapi, opts.srUuid, context);
    const vdiRef = await createEmptyVdi(xapi, name, sr.ref, target.virtualSize, created);
    const source = xvaDiskRaw(await openPlainXva(point, 'restore one disk'), target.id, target.virtualSize);
    await uploadToHost(
      xapi,
      {
        path: '/import_raw_vdi',
        query: { vdi: vdiRef, format: 'raw' },
        source: withDamageNamed(source, point, context),
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
    await abandonRestoreRun(run, opts);
    throw err;
  }
}

/** A new VDI of `virtualSize` bytes, marked and recorded as this restore's. */
async function createEmptyVdi(
  xapi: XapiSession,
  name: string,
  srRef: string,
  virtualSize: number,
  created: CreatedObjects,
): Promise<string> {
  const vdiRef = await xapi.call<string>('VDI.create', {
    name_label: name,
    name_description: '',
    SR: srRef,
    virtual_size: String(virtualSize),
    type: 'user',
    sharable: false,
    read_only: false,
    other_config: created.mark(),
    xenstore_data: {},
    sm_config: {},
    tags: [],
  });
  created.record('VDI', vdiRef);
  return vdiRef;
}

/** The disk's chunks as read from the XVA, a format error becoming the damaged point's error. */
async function* withDamageNamed(
  source: AsyncIterable<Buffer>,
  point: BackupPoint,
  context: Record<string, string>,
): AsyncGenerator<Buffer> {
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
}
