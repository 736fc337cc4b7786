import { randomUUID } from 'node:crypto';
import type { ProgressSampler } from '../transfer/progress-sampler.js';
import { flatVhdStream } from '../formats/vhd/vhd-flat-stream.js';
import { type DeltaMetadata, openPointDisks, type OpenedDisk, type BackupPoint } from '../repository/index.js';
import type { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { uploadToHost } from './disk-upload.js';
import { wantedDiskSrs } from './full-point-placement.js';
import type { RestoreOptions, RestoredDisk } from './restore-options.js';
import { resolveTargetSr, type TargetSr } from './restore-target.js';
import { createDiskFor, createVifs, createVmFromMetadata } from './vm-recreate.js';
import { abandonRestoreRun, startRestoreRun } from './restore-run.js';
import { restoredVmName } from '../../src-shared/restored-vm.js';

/** Streams one opened disk into an existing VDI (PUT /import_raw_vdi?format=vhd), only the blocks the chain holds. */
export async function uploadDisk(
  xapi: XapiSession,
  opened: OpenedDisk,
  vdiRef: string,
  opts: RestoreOptions,
  sampler: ProgressSampler,
  throttle: Throttle | undefined,
  context: Record<string, string>,
): Promise<number> {
  const flat = flatVhdStream(opened.chain, { uuid: randomUUID() });
  await uploadToHost(
    xapi,
    {
      path: '/import_raw_vdi',
      query: { vdi: vdiRef, format: 'vhd' },
      source: flat.body,
      length: flat.length,
      pool: opened.chain.pool,
      label: 'Sluice restore disk',
      context: { ...context, disk: opened.disk.name },
    },
    opts,
    sampler,
    throttle,
  );
  return flat.length;
}

/**
 * Restores an incremental point as a new VM: chains checked, VM/VDIs/VBDs/VIFs created from the metadata,
 * each disk streamed from its chain to the host without materialising it locally. On failure or cancel the
 * VM and every VDI created are destroyed; the repository is only read.
 */
export async function restoreDeltaPoint(xapi: XapiSession, point: BackupPoint, opts: RestoreOptions) {
  const meta = point.metadata as DeltaMetadata;
  const name = opts.name ?? restoredVmName(String(meta.vm['name_label'] ?? point.vmName), point.timestamp);
  const context = { host: new URL(xapi.url).host, vm: name, point: point.id };
  const run = startRestoreRun(xapi, opts, { uuid: point.vmUuid, name }, null);
  const { sampler, throttle, created } = run;
  sampler.setPhase('verify');
  const opened = await openPointDisks(point).catch((err) => {
    sampler.stop('failed');
    throw err;
  });
  try {
    const defaultSr = await resolveTargetSr(xapi, opts.srUuid, context);
    const wanted = await wantedDiskSrs(
      xapi,
      point,
      opened.map((o) => o.disk),
      opts.diskSrs ?? {},
      defaultSr,
      context,
    );
    const srFor = new Map<string, TargetSr>(
      opened.map(({ disk }) => [disk.key, wanted.get(disk.position) ?? defaultSr]),
    );
    const vmRef = await createVmFromMetadata(xapi, meta, name, created);
    const disks: RestoredDisk[] = [];
    for (const o of opened) {
      const sr = srFor.get(o.disk.key)!;
      const vdiRef = await createDiskFor(xapi, o.disk, sr.ref, vmRef, created);
      disks.push({
        vdiRef,
        vdiUuid: await xapi.call<string>('VDI.get_uuid', vdiRef),
        name: o.disk.name,
        position: o.disk.position,
        srUuid: sr.record.uuid,
        bytes: 0,
      });
    }
    await createVifs(xapi, meta, vmRef, opts.log, context);
    // Each disk on a progress line of its own, the VM's line naming them: one after another, their bytes add up.
    sampler.disks = opened.map((o) => ({ uuid: o.disk.uuid, name: o.disk.name }));
    sampler.setPhase('transfer');
    for (let i = 0; i < opened.length; i++) {
      const o = opened[i]!;
      const diskSampler = sampler.forDisk({ uuid: o.disk.uuid, name: o.disk.name });
      diskSampler.start();
      try {
        disks[i]!.bytes = await uploadDisk(xapi, o, disks[i]!.vdiRef, opts, diskSampler, throttle, context);
        diskSampler.stop('done');
      } catch (err) {
        diskSampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
        throw err;
      }
    }
    await created.keep();
    return { vmRef, disks, name, sampler };
  } catch (err) {
    opts.log('info', 'Removing what the restore created on the host.', context);
    await abandonRestoreRun(run, opts);
    throw err;
  } finally {
    await Promise.all(opened.map((o) => o.chain.close()));
  }
}
