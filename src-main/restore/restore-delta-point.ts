import { randomUUID } from 'node:crypto';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError, type ErrorContext } from '../errors/sluice-error.js';
import { loadDigests } from '../formats/vhd/vhd-block-digests.js';
import { VhdChainReader, type VhdBlockCheck } from '../formats/vhd/vhd-chain-reader.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import { flatVhdStream } from '../formats/vhd/vhd-flat-stream.js';
import type { DeltaMetadata } from '../repository/backup-metadata.js';
import { deltaPointDisks, type DeltaPointDisk } from '../repository/point-disks.js';
import type { BackupPoint } from '../repository/repository-reader.js';
import { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { uploadToHost } from './disk-upload.js';
import { wantedDiskSrs } from './full-point-placement.js';
import type { RestoreOptions, RestoredDisk } from './restore-options.js';
import { resolveTargetSr, type TargetSr } from './restore-target.js';
import { CreatedObjects, createDiskFor, createVifs, createVmFromMetadata } from './vm-recreate.js';

/** One disk of a point, its chain opened and checked, ready to stream. */
export interface OpenedDisk {
  disk: DeltaPointDisk;
  chain: VhdChainReader;
}

function damagedPoint(point: BackupPoint, message: string, context: ErrorContext, cause?: unknown): SluiceError {
  return new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${message}`, {
    hint: "This point cannot be restored safely; use another point, and check the remote's disk.",
    context: { vm: point.vmName, point: point.id, ...context },
    cause,
  });
}

/**
 * Opens every chain of a point before anything is created on the host: a missing parent or a damaged
 * header fails here, with nothing to clean up. Reads are checked against the recorded block digests.
 */
export async function openPointDisks(point: BackupPoint, only?: (d: DeltaPointDisk) => boolean): Promise<OpenedDisk[]> {
  const opened: OpenedDisk[] = [];
  try {
    for (const disk of (await deltaPointDisks(point)).filter((d) => !only || only(d))) {
      const check = await digestCheck(point, disk.chain);
      opened.push({ disk, chain: await VhdChainReader.open(disk.chain, { check }) });
    }
    return opened;
  } catch (err) {
    await Promise.all(opened.map((o) => o.chain.close()));
    if (err instanceof VhdFormatError)
      throw damagedPoint(
        point,
        err.message,
        { file: err.source ?? '', offset: String(err.offset), damage: err.damage },
        err,
      );
    if (err instanceof SluiceError && err.code === 'REMOTE_ERROR' && !err.message.includes(point.id))
      throw damagedPoint(point, err.message, err.context, err);
    throw err;
  }
}

/** A block check for a chain: each block read must match the digest recorded when its file was written. */
async function digestCheck(point: BackupPoint, files: string[]): Promise<VhdBlockCheck> {
  const byPath = new Map<string, Awaited<ReturnType<typeof loadDigests>>>();
  for (const f of files) byPath.set(f, await loadDigests(f));
  return (file, index, stored) => {
    const state = byPath.get(file.path);
    if (state?.kind !== 'current') return;
    if (!state.digests.blockMatches(index, stored.bitmap, stored.data)) {
      const at = file.bat[index]! * 512;
      throw damagedPoint(
        point,
        `${file.path}: block ${index} (byte ${at}) does not match the checksum recorded when it was written`,
        {
          file: file.path,
          block: String(index),
          offset: String(at),
          damage: 'block',
        },
      );
    }
  };
}

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
  const name = opts.name ?? String(meta.vm['name_label'] ?? point.vmName);
  const context = { host: new URL(xapi.url).host, vm: name, point: point.id };
  const sampler = new ProgressSampler(
    { runId: opts.runId, vm: { uuid: point.vmUuid, name }, disk: null, spoolCapBytes: opts.spoolCapBytes },
    opts.onProgress,
  );
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  const created = new CreatedObjects();
  sampler.start();
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
    sampler.setPhase('transfer');
    for (let i = 0; i < opened.length; i++) {
      disks[i]!.bytes = await uploadDisk(xapi, opened[i]!, disks[i]!.vdiRef, opts, sampler, throttle, context);
    }
    return { vmRef, disks, name, sampler, created };
  } catch (err) {
    sampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    opts.log('info', 'Removing what the restore created on the host.', context);
    await created.destroy(xapi, opts.log);
    throw err;
  } finally {
    await Promise.all(opened.map((o) => o.chain.close()));
  }
}
