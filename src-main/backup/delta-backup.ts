import { formatBytes } from '../../src-shared/units.js';
import {
  BackupFolder,
  formatTimestamp,
  METADATA_VERSION,
  type DeltaMetadata,
  type RetentionOutcome,
} from '../repository/index.js';
import { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { NULL_REF, vbdRecordSchema, vdiRecordSchema } from '../xapi/xapi-records.js';
import type { BackupRunOptions } from './backup-options.js';
import { longTermTagsOf, scheduleIdOf, vtpmContents } from './xo-metadata-fields.js';
import { markSnapshotAsXo, markSnapshotExported, XO_DELTA_CHAIN_LENGTH } from './xo-snapshot-markers.js';
import {
  backupDeltaDisk,
  estimateDiskStream,
  isLeftOut,
  type DeltaBase,
  type DeltaDiskResult,
  type DeltaRun,
  type SnapshotDisk,
} from './delta-disk.js';
import { settleDeltaSnapshots, takeBackupSnapshot } from './host-snapshot.js';
import { removeDeadRunLeftovers } from '../xapi/dead-run-leftovers.js';
import { forEachLimited } from './for-each-limited.js';
import { cleanUpFailedRun } from './failed-run-cleanup.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { mergeProgressTracker, runRetentionPhase } from './retention-phase.js';

export interface DeltaBackupResult {
  vmUuid: string;
  pointId: string;
  bytes: number;
  disks: DeltaDiskResult[];
  durationMs: number;
  /** What retention kept and deleted (absent when the run has no retention). */
  retention?: RetentionOutcome;
}

type Rec = Record<string, unknown>;

/**
 * One incremental ("delta") backup of one VM in XO's layout: snapshot → per disk GET /export_raw_vdi?format=vhd
 * (with base= the previous backup's snapshot disk when its VHD is intact on the remote, else a full VHD, said
 * in the log) → vdis/<jobId>/<vdiUuid>/<ts>.vhd through the same pipeline as full backups → metadata last →
 * the new snapshot kept on the host as the next base, the previous base destroyed with its disks.
 * Each disk's export is retried from the start when the host gives up. A full VHD starts a new chain when the
 * chain is broken on the remote or already holds `fullInterval` points. Then retention, as the "merge" phase:
 * deleted points fold into the chain; the run is done only when the merges are. Merges a crash interrupted
 * are finished first, before anything builds on the chain.
 */
export async function runDeltaBackup(
  xapi: XapiSession,
  vmRef: string,
  opts: BackupRunOptions,
): Promise<DeltaBackupResult> {
  const started = performance.now();
  const vmRecord = await xapi.call<Rec & { uuid: string; name_label: string }>('VM.get_record', vmRef);
  const vm = { uuid: vmRecord.uuid, name: vmRecord.name_label };
  const ctx = { host: new URL(xapi.url).host, vm: vm.name };
  const folder = await BackupFolder.open(opts.remoteRoot, vm.uuid);
  folder.requireDeltaLayout();
  const release = await folder.lock(`Sluice delta backup ${opts.runId}`);
  const sampler = new ProgressSampler(
    { runId: opts.runId, vm, disk: null, spoolCapBytes: opts.spoolCapBytes },
    opts.onProgress,
  );
  let snapRef: string | undefined;
  // VHDs in place but not yet committed by the point's metadata: a failed run removes them.
  const uncommitted: string[] = [];
  sampler.start();
  try {
    await settleFolder(folder, opts, sampler, ctx);
    const base = await findBase(xapi, vmRef, folder, opts, ctx);

    sampler.setPhase('snapshot');
    const when = await folder.freeTimestamp(new Date());
    const ts = formatTimestamp(when);
    snapRef = await takeBackupSnapshot(xapi, vmRef, vm.name, opts.runId, when, opts.jobId);
    const scheduleId = scheduleIdOf(opts);
    await markSnapshotAsXo(xapi, snapRef, { jobId: opts.jobId, scheduleId, vmUuid: vm.uuid, when });
    const snapRecord = await xapi.call<Rec>('VM.get_record', snapRef);
    const disks = await snapshotDisks(xapi, snapRef);

    // Every disk reports its own progress (one after another or in parallel alike); the VM's sampler carries
    // the VM's phases and names its disks, so the ones not yet started show as waiting and the ones left out
    // as skipped from this first sample on (their own samples come after it).
    sampler.disks = disks.map((d) => ({
      uuid: d.liveVdiUuid,
      name: d.vdi.name_label,
      ...(isLeftOut(d) ? { skipped: true } : { estimatedBytes: estimateDiskStream(d) }),
    }));
    sampler.setPhase('transfer');
    const run: DeltaRun = { xapi, opts, vm, ctx, folder, ts };
    const transferred = await transferDisks(run, base, disks, (key) => uncommitted.push(key));

    sampler.setPhase('commit');
    await folder.commitDeltaPoint(ts, await deltaMetadata(xapi, opts, vmRecord, snapRecord, when, transferred));
    uncommitted.length = 0;
    // From here the new snapshot is the recorded base: a failure must not destroy it.
    const newBase = snapRef;
    snapRef = undefined;

    sampler.setPhase('cleanup');
    await markExported(xapi, newBase, base, transferred.results, ctx, opts);
    await handOnBase(xapi, vmRef, snapRecord, opts, ctx);
    const { total, results } = transferred;
    opts.log('info', `Backed up ${vm.name} incrementally: ${formatBytes(total)} in ${results.length} disk(s).`, ctx);
    const retention = await runRetentionPhase(vm, opts, sampler, ctx, 'delta');
    sampler.stop('done');
    return {
      vmUuid: vm.uuid,
      pointId: ts,
      bytes: total,
      disks: results,
      durationMs: performance.now() - started,
      ...(retention ? { retention } : {}),
    };
  } catch (err) {
    await discardUncommitted(folder, uncommitted, opts, ctx);
    throw await cleanUpFailedRun(xapi, snapRef, err, ctx, sampler, opts);
  } finally {
    await release();
  }
}

/** Leftovers of earlier runs removed, and merges a crash interrupted finished before anything builds on the chain. */
async function settleFolder(
  folder: BackupFolder,
  opts: BackupRunOptions,
  sampler: ProgressSampler,
  ctx: Record<string, string>,
): Promise<void> {
  await folder.cleanFullLeftovers();
  await folder.removeDeltaTemporaries(opts.jobId);
  const settled = await folder.settleChains(opts.jobId, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    log: (m) => opts.log('info', m, ctx),
    ...mergeProgressTracker(sampler),
  });
  if (settled.held) opts.log('warn', `No VHD of this VM was merged or removed as unreferenced, ${settled.held}.`, ctx);
  for (const p of settled.problems) opts.log('warn', p, ctx);
}

async function findBase(
  xapi: XapiSession,
  vmRef: string,
  folder: BackupFolder,
  opts: BackupRunOptions,
  ctx: Record<string, string>,
): Promise<DeltaBase> {
  // The base: the previous point of this job on the remote, and the snapshot on the host its metadata
  // records (whatever step a kill interrupted, the metadata says which snapshot is the base).
  const listed = await folder.listPoints();
  const previous = listed.points.filter((p) => p.mode === 'delta' && p.jobId === opts.jobId).at(-1);
  const baseRef = await settleDeltaSnapshots(xapi, vmRef, {
    jobId: opts.jobId,
    vmUuid: folder.vmUuid,
    recordedUuid: recordedSnapshotUuid(previous?.metadata.vmSnapshot),
    liveRuns: new Set([opts.runId]),
    keepUnconfirmed: listed.unreadable.length > 0,
  });
  await removeDeadRunLeftovers(xapi, opts.log, ctx);
  const disks = baseRef ? await snapshotDisks(xapi, baseRef) : [];
  return { previous, ref: baseRef, disks };
}

/** The disks' VHDs written and what the point's metadata says of them. */
interface TransferredDisks {
  vbds: Record<string, Rec>;
  vdis: Record<string, Rec>;
  vhds: Record<string, string>;
  isVhdDifferencing: Record<string, boolean>;
  /** In the snapshot's disk order. */
  results: DeltaDiskResult[];
  total: number;
}

async function transferDisks(
  run: DeltaRun,
  base: DeltaBase,
  disks: SnapshotDisk[],
  onCommitted: (key: string) => void,
): Promise<TransferredDisks> {
  const { opts } = run;
  const out: TransferredDisks = { vbds: {}, vdis: {}, vhds: {}, isVhdDifferencing: {}, results: [], total: 0 };
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  // Disks in parallel when asked: they share the VM's speed limit, buffer and spool.
  const parallel = Math.max(1, Math.min(opts.diskConcurrency ?? 1, disks.length));
  const buffer = {
    memoryCapBytes: Math.floor(opts.memoryBufferBytes / parallel),
    spoolCapBytes: Math.floor(opts.spoolCapBytes / parallel),
    spoolDir: opts.spoolDir,
  };
  // Disks left out by name go first: they say "skipped" from the start, never "waiting" behind the others.
  const ordered = [...disks.filter(isLeftOut), ...disks.filter((d) => !isLeftOut(d))];
  await forEachLimited(ordered, parallel, async (d) => {
    const done = await backupDeltaDisk(run, base, { throttle, buffer }, d, onCommitted);
    if (!done) return;
    out.total += done.result.bytes;
    out.results.push(done.result);
    out.vbds[d.vbdRef] = d.vbd;
    out.vdis[d.ref] = {
      ...d.vdi,
      $snapshot_of$uuid: d.liveVdiUuid,
      $SR$uuid: d.srUuid,
      other_config: {
        ...(d.vdi.other_config as Rec),
        ...(done.baseVdiUuid !== undefined ? { 'xo:base_delta_vdi': done.baseVdiUuid } : {}),
      },
    };
    out.vhds[d.ref] = done.key;
    out.isVhdDifferencing[d.ref] = done.result.differencing;
  });
  out.results.sort(
    (a, b) => disks.findIndex((d) => d.liveVdiUuid === a.vdiUuid) - disks.findIndex((d) => d.liveVdiUuid === b.vdiUuid),
  );
  return out;
}

async function deltaMetadata(
  xapi: XapiSession,
  opts: BackupRunOptions,
  vmRecord: Rec,
  snapRecord: Rec,
  when: Date,
  disks: TransferredDisks,
): Promise<DeltaMetadata> {
  const vifs: Record<string, Rec> = {};
  for (const vifRef of (snapRecord.VIFs as string[] | undefined) ?? [])
    vifs[vifRef] = await vifWithNetwork(xapi, vifRef);
  return {
    jobId: opts.jobId,
    mode: 'delta',
    scheduleId: scheduleIdOf(opts),
    timestamp: when.getTime(),
    version: METADATA_VERSION,
    vm: vmRecord,
    vmSnapshot: snapRecord,
    vbds: disks.vbds,
    vdis: disks.vdis,
    vifs,
    vhds: disks.vhds,
    vtpms: await vtpmContents(xapi, snapRecord),
    // As XO writes for every fresh export from the host (a mirror copies its source's value).
    includeNonNbdQcow2Fix: true,
    isVhdDifferencing: disks.isVhdDifferencing,
    size: disks.total,
    tags: longTermTagsOf(opts, when),
  };
}

async function handOnBase(
  xapi: XapiSession,
  vmRef: string,
  snapRecord: Rec,
  opts: BackupRunOptions,
  ctx: Record<string, string>,
): Promise<void> {
  // The new snapshot is the next base; the previous one has served. What a failure here leaves, the next
  // run settles the same way: the point is made either way.
  await settleDeltaSnapshots(xapi, vmRef, {
    jobId: opts.jobId,
    recordedUuid: recordedSnapshotUuid(snapRecord),
    liveRuns: new Set(),
    keepUnconfirmed: false,
  }).catch((e: Error) =>
    opts.log('warn', `Could not hand the base snapshot on: ${e.message}. The next run of this job does it.`, ctx),
  );
}

/**
 * The new base marked exported as XO marks its own, with the length of its delta chain (0 after a full), so
 * that XO's next run of this job finds it. The point is made either way: a failure here is only said.
 */
async function markExported(
  xapi: XapiSession,
  snapRef: string,
  base: DeltaBase,
  results: DeltaDiskResult[],
  ctx: Record<string, string>,
  opts: BackupRunOptions,
): Promise<void> {
  try {
    const before = base.ref ? await xapi.call<Rec>('VM.get_other_config', base.ref) : {};
    const baseLength = Number((before as Record<string, string>)[XO_DELTA_CHAIN_LENGTH] ?? 0) || 0;
    const length = results.length > 0 && results.every((r) => r.differencing) ? baseLength + 1 : 0;
    await markSnapshotExported(xapi, snapRef, length);
  } catch (e) {
    opts.log('warn', `Could not mark the new base snapshot as Xen Orchestra does: ${(e as Error).message}.`, ctx);
  }
}

/** A failed run's finished VHDs, so that it leaves nothing on the remote that no point names. */
async function discardUncommitted(
  folder: BackupFolder,
  keys: string[],
  opts: BackupRunOptions,
  ctx: Record<string, string>,
): Promise<void> {
  if (!keys.length) return;
  try {
    const removed = await folder.discardUncommittedDisks(keys);
    if (removed.length) opts.log('info', `Removed ${removed.length} file(s) this failed run had written.`, ctx);
  } catch (err) {
    opts.log(
      'warn',
      `Could not remove the VHDs this failed run had written: ${(err as Error).message}. The next run or check --repair removes them.`,
      ctx,
    );
  }
}

function recordedSnapshotUuid(snapshot: Rec | undefined): string | undefined {
  return typeof snapshot?.uuid === 'string' ? snapshot.uuid : undefined;
}

async function snapshotDisks(xapi: XapiSession, snapRef: string): Promise<SnapshotDisk[]> {
  const out: SnapshotDisk[] = [];
  for (const vbdRef of await xapi.call<string[]>('VM.get_VBDs', snapRef)) {
    const vbdRaw = await xapi.call<Rec>('VBD.get_record', vbdRef);
    const vbd = vbdRecordSchema.parse(vbdRaw);
    if (vbd.type !== 'Disk' || vbd.VDI === NULL_REF) continue;
    const vdiRaw = await xapi.call<Rec>('VDI.get_record', vbd.VDI);
    const vdi = vdiRecordSchema.parse(vdiRaw);
    const liveVdiUuid =
      vdi.snapshot_of !== NULL_REF
        ? await xapi.call<string>('VDI.get_uuid', vdi.snapshot_of).catch(() => vdi.uuid)
        : vdi.uuid;
    const srUuid = await xapi.call<string>('SR.get_uuid', vdi.SR).catch(() => '');
    out.push({
      ref: vbd.VDI,
      vbdRef,
      vbd: vbdRaw,
      vdi: { ...vdiRaw, uuid: vdi.uuid, name_label: vdi.name_label, snapshot_of: vdi.snapshot_of },
      liveVdiUuid,
      srUuid,
    });
  }
  return out;
}

/** A VIF record with its network named as XO records it ($network$uuid/name_label/VLAN): another pool's restore finds it by those. */
async function vifWithNetwork(xapi: XapiSession, vifRef: string): Promise<Rec> {
  const vif = await xapi.call<Rec>('VIF.get_record', vifRef).catch(() => ({}) as Rec);
  const network =
    typeof vif.network === 'string'
      ? await xapi.call<Rec>('network.get_record', vif.network).catch(() => undefined)
      : undefined;
  if (!network) return vif;
  const pifs = Array.isArray(network.PIFs) ? (network.PIFs as string[]) : [];
  const vlan = pifs[0] ? await xapi.call<number | string>('PIF.get_VLAN', pifs[0]).catch(() => -1) : -1;
  return { ...vif, $network$uuid: network.uuid, $network$name_label: network.name_label, $network$VLAN: Number(vlan) };
}
