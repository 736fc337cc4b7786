import path from 'node:path';
import { vdiRecordSchema } from '../xapi/xapi-records.js';
import { estimateVhdExportBytes } from './export-size-estimate.js';
import { isAliasName, type VhdDirectoryStore } from '../formats/vhd/vhd-directory.js';
import { writeVhdStreamToDirectory } from '../formats/vhd/vhd-stream-to-directory.js';
import { writeVhdStreamToFile, type VhdStreamToFileResult } from '../formats/vhd/vhd-stream-to-file.js';
import type { RandomAccessFile } from '../core/random-access-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { formatBytes } from '../../src-shared/units.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import type { BackupFolder, BackupPoint } from '../repository/index.js';
import { StreamBridge } from '../transfer/stream-bridge.js';
import { withSilenceLimit } from '../transfer/silence-watchdog.js';
import type { Throttle } from '../transfer/throttle.js';
import { Transfer, type TransferOptions } from '../transfer/transfer-pipeline.js';
import { openHostDownload, type HostStream } from '../xapi/http-export.js';
import { NOBAK_MARK } from '../xapi/live-inventory.js';
import { hostCauseOfFailure, taskFailure, waitForTask } from '../xapi/task-waiter.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { BackupRunOptions } from './backup-options.js';
import { isCutStream, silenceError } from './full-backup.js';
import { createOwnedTask } from '../xapi/owned-tasks.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { retryFromStart } from './retry-policy.js';

type Rec = Record<string, unknown>;

/** A disk of a snapshot as the point's metadata records it, with the live VDI it was taken of. */
export interface SnapshotDisk {
  ref: string;
  vbdRef: string;
  vbd: Rec;
  vdi: Rec & { uuid: string; name_label: string; snapshot_of: string };
  liveVdiUuid: string;
  srUuid: string;
}

export interface DeltaDiskResult {
  vdiUuid: string;
  name: string;
  path: string;
  differencing: boolean;
  bytes: number;
}

/** What every disk of one delta run shares: the VM, its folder and the new point's id. */
export interface DeltaRun {
  xapi: XapiSession;
  opts: BackupRunOptions;
  vm: { uuid: string; name: string };
  ctx: Record<string, string>;
  folder: BackupFolder;
  /** The new point's id, which names each disk's VHD. */
  ts: string;
}

/** What the new point can build on: the job's previous point on the remote and its snapshot on the host. */
export interface DeltaBase {
  previous: BackupPoint | undefined;
  ref: string | undefined;
  disks: SnapshotDisk[];
}

/** The share of the VM's speed limit, buffer and spool that each disk gets. */
export interface DiskLimits {
  throttle: Throttle | undefined;
  buffer: TransferOptions['buffer'];
}

/** A differencing VHD's parent: the base snapshot's disk on the host and its VHD on the remote. */
interface DiskParent {
  base: SnapshotDisk;
  parentKey: string;
}

/** A disk's VHD in place on the remote (with its digests), and what the point's metadata says of it. */
export interface BackedUpDisk {
  result: DeltaDiskResult;
  key: string;
  baseVdiUuid: string | undefined;
}

/** A disk left out of the backup by its name. */
export const isLeftOut = (d: SnapshotDisk): boolean => d.vdi.name_label.includes(NOBAK_MARK);

/** A disk's stream before it starts, from the snapshot's allocation (its exact length comes from its BAT). */
export function estimateDiskStream(d: SnapshotDisk): number {
  const vdi = vdiRecordSchema.parse(d.vdi);
  return estimateVhdExportBytes(vdi.virtual_size, vdi.physical_utilisation);
}

/** One disk being written: its VHD's file (or directory), where it goes and what it is built on. */
interface DiskWrite {
  disk: SnapshotDisk;
  parent: DiskParent | undefined;
  out: { kind: 'file'; file: RandomAccessFile } | { kind: 'directory'; store: VhdDirectoryStore };
  path: string;
  sampler: ProgressSampler;
}

/** What writing one disk gave: its stream's length and, for a VHD file, what its digests file needs. */
type DiskSummary = Pick<VhdStreamToFileResult, 'streamBytes'> &
  Partial<Pick<VhdStreamToFileResult, 'digests' | 'metadata'>>;

/**
 * One disk of a delta point: a differencing VHD on the previous one when the chain allows it, else a full
 * VHD; the export retried from the start. `onCommitted` hears of the VHD as soon as it is in place, so that a
 * failed run can remove it. Undefined for a disk left out by its name.
 */
export async function backupDeltaDisk(
  run: DeltaRun,
  base: DeltaBase,
  limits: DiskLimits,
  d: SnapshotDisk,
  onCommitted: (key: string) => void,
): Promise<BackedUpDisk | undefined> {
  const { opts } = run;
  const diskSampler = new ProgressSampler(
    {
      runId: opts.runId,
      vm: run.vm,
      disk: { uuid: d.liveVdiUuid, name: d.vdi.name_label },
      spoolCapBytes: limits.buffer.spoolCapBytes,
    },
    opts.onProgress,
  );
  if (isLeftOut(d)) {
    opts.log('info', `Skipping disk "${d.vdi.name_label}": its name contains ${NOBAK_MARK}.`, run.ctx);
    diskSampler.stop('skipped');
    return undefined;
  }
  const directory = run.folder.usesVhdDirectories(opts.useVhdDirectory);
  const parent = await chooseParent(run, base, d, directory);
  const vhd = await run.folder.beginDeltaDisk(opts.jobId, d.liveVdiUuid, run.ts, { directory });
  const { key, path: target } = vhd;
  // An estimate until the VHD's block table gives the stream's length, so the total is never unknown.
  [diskSampler.totalBytes, diskSampler.estimate] = [estimateDiskStream(d), 'allocation'];
  diskSampler.phase = 'transfer';
  diskSampler.start();
  const out: DiskWrite['out'] =
    vhd.kind === 'file' ? { kind: 'file', file: vhd.upload.file } : { kind: 'directory', store: vhd.store };
  const write: DiskWrite = { disk: d, parent, out, path: target, sampler: diskSampler };
  try {
    const summary = await retryFromStart(
      `the export of disk "${d.vdi.name_label}"`,
      { policy: opts.retry, signal: opts.signal, log: opts.log, context: run.ctx },
      async (attempt) => {
        if (attempt > 1) await (vhd.kind === 'file' ? vhd.upload.file.truncate(0) : vhd.reset());
        return exportDisk(run, limits, write, attempt);
      },
    );
    if (vhd.kind === 'file') {
      await vhd.upload.commit();
      onCommitted(key);
      // After the VHD is in place (its size is final); before the metadata that commits the point.
      await vhd.writeDigests(summary.digests!, summary.metadata!);
    } else {
      // The alias, last of the disk's objects: the directory is whole before anything names it.
      await vhd.commit();
      onCommitted(key);
    }
    diskSampler.stop('done');
    return {
      result: {
        vdiUuid: d.liveVdiUuid,
        name: d.vdi.name_label,
        path: target,
        differencing: parent !== undefined,
        bytes: summary.streamBytes,
      },
      key,
      baseVdiUuid: parent?.base.vdi.uuid,
    };
  } catch (err) {
    diskSampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    if (vhd.kind === 'file') await vhd.upload.abort();
    else {
      await vhd.abort().catch((e: unknown) => {
        opts.log(
          'warn',
          `Could not remove the VHD directory of ${target}: ${e instanceof Error ? e.message : String(e)}`,
          run.ctx,
        );
      });
    }
    throw err;
  }
}

/** The parent a differencing VHD can have, or undefined (said in the log) when this disk needs a full VHD. */
async function chooseParent(
  run: DeltaRun,
  base: DeltaBase,
  d: SnapshotDisk,
  directory: boolean,
): Promise<DiskParent | undefined> {
  const { opts, ctx } = run;
  const baseDisk = base.disks.find((b) => b.vdi.snapshot_of === d.vdi.snapshot_of);
  const prevRel = base.previous ? run.folder.diskKeyOf(base.previous, opts.jobId, d.liveVdiUuid) : undefined;
  if (!baseDisk || !prevRel) {
    if (base.previous || base.ref) {
      opts.log(
        'warn',
        `No usable base for disk "${d.vdi.name_label}" (${!baseDisk ? 'the base snapshot is gone from the host' : 'the previous VHD is missing on the remote'}); making a full VHD.`,
        ctx,
      );
    }
    return undefined;
  }
  if (isAliasName(prevRel) !== directory) {
    // A chain is all files or all directories (as XO keeps it): the merge works on one form or the other.
    opts.log(
      'info',
      `The chain of disk "${d.vdi.name_label}" is made of ${directory ? 'VHD files' : 'VHD directories'} and this remote now takes ${directory ? 'VHD directories' : 'VHD files'}; starting a new chain with a full VHD.`,
      ctx,
    );
    return undefined;
  }
  const chain = await run.folder.previousChain(prevRel);
  if ('problem' in chain) {
    opts.log(
      'warn',
      `The backup chain of disk "${d.vdi.name_label}" is broken on the remote (${chain.problem.message}); making a full VHD.`,
      ctx,
    );
  } else if (chain.uuid !== baseDisk.vdi.uuid) {
    opts.log(
      'warn',
      `The previous backup of disk "${d.vdi.name_label}" does not match its base snapshot on the host; making a full VHD.`,
      ctx,
    );
  } else if (opts.fullInterval && chain.paths.length >= opts.fullInterval) {
    opts.log(
      'info',
      `The chain of disk "${d.vdi.name_label}" holds ${chain.paths.length} points (full interval ${opts.fullInterval}); starting a new chain with a full VHD.`,
      ctx,
    );
  } else return { base: baseDisk, parentKey: prevRel };
  return undefined;
}

/** One GET /export_raw_vdi under its own host task, its VHD stream checked and written into the disk's file. */
async function exportDisk(run: DeltaRun, limits: DiskLimits, write: DiskWrite, attempt: number): Promise<DiskSummary> {
  const { xapi, opts, ctx } = run;
  const { disk: d, parent } = write;
  const taskRef = await createOwnedTask(xapi, 'Sluice delta export', `${run.vm.name} ${d.vdi.name_label}`, opts.runId);
  let stream: HostStream | undefined;
  try {
    stream = await openHostDownload(
      xapi,
      '/export_raw_vdi',
      { vdi: d.ref, format: 'vhd', task_id: taskRef, ...(parent ? { base: parent.base.ref } : {}) },
      { signal: opts.signal, context: { ...ctx, disk: d.vdi.name_label } },
    );
    const summary = await streamDisk(run, limits, write, stream, attempt);
    const task = await waitForTask(xapi, taskRef, { signal: opts.signal, timeoutMs: 10 * 60_000 });
    if (task.status !== 'success') throw taskFailure(task, 'export_raw_vdi');
    return summary;
  } catch (err) {
    stream?.abort(err);
    const cause = await hostCauseOfFailure(xapi, taskRef, err, 'export_raw_vdi', isCutStream);
    throw cause instanceof VhdFormatError && cause.damage === 'truncated'
      ? hostWentAway(cause, { ...ctx, disk: String(d.vdi.name_label), phase: 'transfer' })
      : cause;
  } finally {
    await xapi.call('task.destroy', taskRef).catch(() => {});
  }
}

/** The host's stream through the buffer into the VHD writer, both ends failing together. */
async function streamDisk(
  run: DeltaRun,
  limits: DiskLimits,
  write: DiskWrite,
  stream: HostStream,
  attempt: number,
): Promise<DiskSummary> {
  const { opts, ctx } = run;
  const { disk: d, parent } = write;
  const bridge = new StreamBridge();
  const silenceMs = opts.silenceLimitMs ?? 5 * 60_000;
  const transfer = new Transfer({
    source: withSilenceLimit(
      stream.body,
      silenceMs,
      () => silenceError(silenceMs, ctx),
      (e) => stream.abort(e),
    ),
    sink: bridge,
    buffer: limits.buffer,
    throttle: limits.throttle,
    signal: opts.signal,
    onFailure: (e) => stream.abort(e),
  });
  write.sampler.restart(attempt, transfer.counters);
  const moving = transfer.run().then(
    () => bridge.end(),
    (e: unknown) => {
      bridge.fail(e);
      throw e;
    },
  );
  const streamOpts = {
    source: `${run.vm.name} / ${d.vdi.name_label}`,
    // The host sends no length, but the VHD's block table says where the stream ends.
    onLength: (bytes: number) => {
      write.sampler.totalBytes = bytes;
      write.sampler.estimate = undefined;
    },
    ...(parent ? { parentName: path.basename(parent.parentKey), expectedParentUuid: parent.base.vdi.uuid } : {}),
  };
  const { out } = write;
  const writing: Promise<DiskSummary> =
    out.kind === 'file'
      ? writeVhdStreamToFile(bridge, write.path, { ...streamOpts, file: out.file })
      : writeVhdStreamToDirectory(bridge, out.store, streamOpts);
  const written = writing.catch((e: unknown) => {
    // A write that failed on the remote (full, read-only, gone) is said in words, naming the file.
    const err = (e as NodeJS.ErrnoException)?.code ? describeFsError(e, write.path, 'write') : e;
    stream.abort(err);
    throw err;
  });
  const [, summary] = await Promise.all([moving, written]);
  return summary;
}

/**
 * The disk's stream ended early and the host's task said nothing (a host that died or rebooted cannot): the host
 * went away. Retryable; once the attempts are spent, the admin reads what happened and that nothing was lost.
 */
function hostWentAway(err: VhdFormatError, context: Record<string, string>): SluiceError {
  return new SluiceError(
    'HOST_ERROR',
    `The host ${context['host']} stopped sending disk "${context['disk']}" of ${context['vm']} after ${formatBytes(err.offset)}, and did not say why: it most likely went away (crashed, rebooted or lost its network).`,
    {
      hint: 'Nothing was lost: the backups already on the remote are untouched, and the partial disk of this run was removed. Check that the host is up and reachable, then run the backup again.',
      context: { ...context, detail: err.message },
      retryable: true,
      cause: err,
    },
  );
}
