import type { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { OvaDisk } from '../formats/ova-xml.js';
import { pickDisk, type BackupPoint } from '../repository/index.js';
import { taskFailure, waitForTask } from '../xapi/task-waiter.js';
import { markTaskOwned } from '../xapi/owned-tasks.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { idleCounters } from '../transfer/transfer-pipeline.js';
import { parseTaskResultRefs, type VbdRecord } from '../xapi/xapi-records.js';
import { diskVbdsOf } from '../xapi/vm-disk-vbds.js';
import type { RestoreOptions } from './restore-options.js';
import { resolveTargetSr, type TargetSr } from './restore-target.js';
import type { CreatedObjects } from './vm-recreate.js';

// A full point's XVA is imported whole, onto one SR (PUT /import?sr_id=). Disks asked onto other SRs are
// moved afterwards, one by one: VDI.copy onto their SR, the VBD swapped to the copy at the same position,
// the imported original destroyed. The XVA goes onto the SR most disks want, so the fewest disks move.

export interface FullPointPlacement {
  /** The SR the XVA is imported onto. */
  importSr: TargetSr;
  /** Position (userdevice) → the SR that disk must end on, for each disk not wanted on importSr. */
  moves: Map<string, TargetSr>;
}

/**
 * Where each disk of a full point goes: opts.diskSrs (keyed by the disk's position or its uuid as the XVA
 * records it) over opts.srUuid (default: the pool's default SR). Every disk and SR named is checked here,
 * before anything is created on the host. `disks` is the XVA's disk list, or undefined when it cannot be read
 * before the import (a zstd XVA): disks are then named by position only, and checked against the imported VM.
 */
export async function planFullPointPlacement(
  xapi: XapiSession,
  point: BackupPoint,
  disks: OvaDisk[] | undefined,
  opts: Pick<RestoreOptions, 'srUuid' | 'diskSrs'>,
  context: Record<string, string>,
): Promise<FullPointPlacement> {
  const defaultSr = await resolveTargetSr(xapi, opts.srUuid, context);
  if (Object.keys(opts.diskSrs ?? {}).length === 0) return { importSr: defaultSr, moves: new Map() };

  const wanted = await wantedDiskSrs(xapi, point, disks, opts.diskSrs ?? {}, defaultSr, context);

  // Unknown disk list (zstd): import onto the default SR, move only the disks named elsewhere.
  let importSr = defaultSr;
  if (disks) {
    const votes = new Map<string, { sr: TargetSr; count: number }>();
    for (const d of disks) {
      const sr = wanted.get(d.position) ?? defaultSr;
      const v = votes.get(sr.ref) ?? { sr, count: 0 };
      v.count++;
      votes.set(sr.ref, v);
    }
    // The default SR wins a tie: the same choice as without per-disk SRs.
    const best = Math.max(...[...votes.values()].map((v) => v.count));
    importSr =
      votes.get(defaultSr.ref)?.count === best ? defaultSr : [...votes.values()].find((v) => v.count === best)!.sr;
  }
  const moves = new Map<string, TargetSr>();
  for (const position of disks ? disks.map((d) => d.position) : [...wanted.keys()]) {
    const sr = wanted.get(position) ?? defaultSr;
    if (sr.ref !== importSr.ref) moves.set(position, sr);
  }
  return { importSr, moves };
}

/**
 * The SR each named disk is asked onto, by position: every key must name a disk of the point (its position or
 * its uuid) and every SR must exist on the pool, else the error says which. `disks` undefined: positions only
 * (the disk list of a zstd XVA cannot be read before its import).
 */
export async function wantedDiskSrs(
  xapi: XapiSession,
  point: BackupPoint,
  disks: Array<{ uuid: string; position: string; name: string }> | undefined,
  diskSrs: Record<string, string>,
  defaultSr: TargetSr,
  context: Record<string, string>,
): Promise<Map<string, TargetSr>> {
  const srs = new Map<string, TargetSr>([[defaultSr.record.uuid, defaultSr]]);
  const wanted = new Map<string, TargetSr>();
  for (const [key, srUuid] of Object.entries(diskSrs)) {
    const position = positionOf(point, disks, key);
    const sr = srs.get(srUuid.toLowerCase()) ?? (await diskSr(xapi, srUuid, key, context));
    srs.set(sr.record.uuid, sr);
    const already = wanted.get(position);
    if (already && already.ref !== sr.ref) {
      throw new SluiceError(
        'VALIDATION',
        `Disk ${position} of ${point.vmName} ${point.id} is given two SRs (${already.record.uuid} and ${sr.record.uuid}).`,
        {
          hint: 'Name each disk once, by its position or by its uuid.',
          context,
        },
      );
    }
    wanted.set(position, sr);
  }
  return wanted;
}

function positionOf(
  point: BackupPoint,
  disks: Array<{ uuid: string; position: string; name: string }> | undefined,
  key: string,
): string {
  if (disks) return pickDisk(disks, key, point).position;
  if (/^\d+$/.test(key)) return key;
  throw new SluiceError(
    'VALIDATION',
    `${point.vmName} ${point.id} is a zstd-compressed XVA: Sluice cannot read its disk list before the import, so its disks must be named by position, not "${key}".`,
    {
      hint: 'Name the disk by its position instead: 0 for the first disk (userdevice 0), 1 for the next….',
      context: { vm: point.vmName, point: point.id },
    },
  );
}

async function diskSr(
  xapi: XapiSession,
  srUuid: string,
  key: string,
  context: Record<string, string>,
): Promise<TargetSr> {
  try {
    return await resolveTargetSr(xapi, srUuid, context);
  } catch (err) {
    if (err instanceof SluiceError && err.code === 'NOT_FOUND') {
      throw new SluiceError('NOT_FOUND', `The pool has no SR with uuid ${srUuid} (asked for disk ${key}).`, {
        hint: "Give the uuid of one of the pool's SRs (xe sr-list) for that disk.",
        context: { ...context, disk: key },
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * Moves the imported disks that belong on another SR. Everything made is recorded in `created` as soon as it
 * exists (the copy before its VBD, the original until it is destroyed), so a failure or a cancel at any step
 * removes it all.
 */
export async function moveImportedDisks(
  xapi: XapiSession,
  vmRef: string,
  placement: FullPointPlacement,
  created: CreatedObjects,
  opts: MoveOptions,
  sampler: ProgressSampler,
  context: Record<string, string>,
): Promise<void> {
  if (placement.moves.size === 0) return;
  sampler.setPhase('commit');
  const vbds = await diskVbdsByPosition(xapi, vmRef);
  // All positions first: a wrong one (possible only for a zstd XVA) fails before any disk moves.
  for (const position of placement.moves.keys()) {
    if (!vbds.has(position)) {
      throw new SluiceError('NOT_FOUND', `The restored VM has no disk at position ${position}.`, {
        hint: `Its disks are at positions ${[...vbds.keys()].sort((a, b) => Number(a) - Number(b)).join(', ') || '(none)'}.`,
        context,
      });
    }
  }
  for (const [position, sr] of placement.moves) {
    opts.signal?.throwIfAborted();
    const { ref: vbdRef, record: vbd } = vbds.get(position)!;
    await moveDisk(xapi, vmRef, { position, sr, vbdRef, vbd }, created, opts, sampler, context);
  }
}

type MoveOptions = Pick<RestoreOptions, 'runId' | 'signal' | 'log'>;

/** One imported disk to move: where it is plugged and the SR it must end on. */
interface DiskMove {
  position: string;
  sr: TargetSr;
  vbdRef: string;
  vbd: VbdRecord;
}

/** The VM's disk VBDs (not its CD drives or empty ones) by position. */
async function diskVbdsByPosition(
  xapi: XapiSession,
  vmRef: string,
): Promise<Map<string, { ref: string; record: VbdRecord }>> {
  const vbds = new Map<string, { ref: string; record: VbdRecord }>();
  for (const { ref, vbd } of await diskVbdsOf(xapi, vmRef)) vbds.set(vbd.userdevice, { ref, record: vbd });
  return vbds;
}

/** Copies the disk onto its SR, plugs the copy where the original was, and destroys the original. */
async function moveDisk(
  xapi: XapiSession,
  vmRef: string,
  move: DiskMove,
  created: CreatedObjects,
  opts: MoveOptions,
  sampler: ProgressSampler,
  context: Record<string, string>,
): Promise<void> {
  const { position, sr, vbdRef, vbd } = move;
  const name = await xapi.call<string>('VDI.get_name_label', vbd.VDI);
  opts.log('info', `Moving disk ${position} ("${name}") onto the SR "${sr.record.name_label}".`, context);
  const copy = await copyShowingProgress(xapi, move, name, created, opts, sampler, context);
  opts.signal?.throwIfAborted();
  await xapi.call('VBD.destroy', vbdRef);
  await xapi.call('VBD.create', vbdOfCopy(vmRef, copy, vbd));
  await xapi.call('VDI.destroy', vbd.VDI);
  created.forgetVdi(vbd.VDI);
}

/** The copy of the moved disk, recorded in `created` as soon as the host names it. */
async function copyShowingProgress(
  xapi: XapiSession,
  move: DiskMove,
  name: string,
  created: CreatedObjects,
  opts: MoveOptions,
  sampler: ProgressSampler,
  context: Record<string, string>,
): Promise<string> {
  const { position, sr, vbd } = move;
  // The copy's own progress line: the host task's progress x the disk's size, so a large disk is seen moving.
  const virtualSize = Number(await xapi.call<string | number>('VDI.get_virtual_size', vbd.VDI));
  const moved = idleCounters();
  const diskSampler = sampler.forDisk({ uuid: await xapi.call<string>('VDI.get_uuid', vbd.VDI), name });
  diskSampler.totalBytes = virtualSize;
  diskSampler.phase = 'transfer';
  diskSampler.restart(1, moved);
  diskSampler.start();
  const onProgress = (fraction: number) => {
    const bytes = Math.round(Math.min(1, Math.max(0, fraction)) * virtualSize);
    if (bytes <= moved.bytesWritten) return;
    moved.bytesRead = moved.bytesWritten = bytes;
    diskSampler.report();
  };
  const copy = await copyVdi(xapi, opts.runId, vbd.VDI, sr, opts.signal, onProgress).catch((err: unknown) => {
    diskSampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    if (opts.signal?.aborted || !(err instanceof SluiceError) || err.code === 'CANCELLED') throw err;
    throw new SluiceError(
      err.code,
      `Moving disk ${position} ("${name}") onto the SR "${sr.record.name_label}" failed: ${err.message}`,
      {
        hint: err.hint,
        context: { ...context, ...err.context, disk: name, sr: sr.record.uuid },
        retryable: err.retryable,
        damage: err.damage,
        cause: err,
      },
    );
  });
  await created.adopt('VDI', copy);
  moved.bytesRead = moved.bytesWritten = virtualSize;
  diskSampler.stop('done');
  return copy;
}

/** The original's VBD record, pointing at the copy. */
function vbdOfCopy(vmRef: string, copy: string, vbd: VbdRecord): Record<string, unknown> {
  return {
    VM: vmRef,
    VDI: copy,
    userdevice: vbd.userdevice,
    bootable: vbd.bootable,
    mode: vbd.mode,
    type: vbd.type,
    empty: false,
    unpluggable: vbd['unpluggable'] === true,
    other_config: (vbd['other_config'] as Record<string, string> | undefined) ?? {},
    qos_algorithm_type: String(vbd['qos_algorithm_type'] ?? ''),
    qos_algorithm_params: (vbd['qos_algorithm_params'] as Record<string, string> | undefined) ?? {},
  };
}

/**
 * Async.VDI.copy, waited for; the task's progress (0..1) is passed on at each poll. A cancel cancels the host's task; should the copy finish anyway, it is
 * destroyed here, since the caller never learns its ref.
 */
async function copyVdi(
  xapi: XapiSession,
  runId: string,
  vdi: string,
  sr: TargetSr,
  signal: AbortSignal | undefined,
  onProgress: (fraction: number) => void,
): Promise<string> {
  const task = await xapi.call<string>('Async.VDI.copy', vdi, sr.ref);
  try {
    await markTaskOwned(xapi, task, runId, { madeResult: true });
    let done;
    try {
      done = await waitForTask(xapi, task, { signal, onPoll: (t) => onProgress(t.progress) });
    } catch (err) {
      await xapi.call('task.cancel', task).catch(() => {});
      const ended = await waitForTask(xapi, task, { timeoutMs: 60_000, pollMs: 100 }).catch(() => undefined);
      const orphan = ended?.status === 'success' ? parseTaskResultRefs(ended.result)[0] : undefined;
      if (orphan) await xapi.call('VDI.destroy', orphan).catch(() => {});
      throw err;
    }
    if (done.status !== 'success') throw taskFailure(done, 'VDI.copy');
    const copy = parseTaskResultRefs(done.result)[0];
    if (!copy)
      throw new SluiceError('HOST_ERROR', 'The host finished copying a disk but named no VDI.', {
        context: { sr: sr.record.uuid },
      });
    return copy;
  } finally {
    await xapi.call('task.destroy', task).catch(() => {});
  }
}
