import path from 'node:path';
import { writeDigestsFile } from '../formats/vhd/vhd-block-digests.js';
import { writeVhdStreamToFile } from '../formats/vhd/vhd-stream-to-file.js';
import { AtomicFile, writeFileAtomic } from '../core/atomic-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { formatBytes } from '../../src-shared/units.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import {
  BackupFolder,
  formatTimestamp,
  longTermTags,
  METADATA_VERSION,
  type DeltaMetadata,
  type RetentionOutcome,
} from '../repository/index.js';
import { StreamBridge } from '../transfer/stream-bridge.js';
import { withSilenceLimit } from '../transfer/silence-watchdog.js';
import { Throttle } from '../transfer/throttle.js';
import { Transfer } from '../transfer/transfer-pipeline.js';
import { openHostDownload, type HostStream } from '../xapi/http-export.js';
import { NOBAK_MARK } from '../xapi/live-inventory.js';
import { hostCauseOfFailure, taskFailure, waitForTask } from '../xapi/task-waiter.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { NULL_REF, vbdRecordSchema, vdiRecordSchema } from '../xapi/xapi-records.js';
import type { BackupRunOptions } from './backup-options.js';
import { isCutStream, silenceError } from './full-backup.js';
import { settleDeltaSnapshots, takeBackupSnapshot } from './host-snapshot.js';
import { removeDeadRunLeftovers } from '../xapi/dead-run-leftovers.js';
import { createOwnedTask } from '../xapi/owned-tasks.js';
import { forEachLimited } from './for-each-limited.js';
import { cleanUpFailedRun } from './failed-run-cleanup.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { mergeProgressTracker, runRetentionPhase } from './retention-phase.js';
import { retryFromStart } from './retry-policy.js';

export interface DeltaBackupResult {
  vmUuid: string;
  pointId: string;
  bytes: number;
  disks: Array<{ vdiUuid: string; name: string; path: string; differencing: boolean; bytes: number }>;
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
    await folder.cleanFullLeftovers();
    await folder.removeDeltaTemporaries(opts.jobId);
    const settled = await folder.settleChains(opts.jobId, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      log: (m) => opts.log('info', m, ctx),
      ...mergeProgressTracker(sampler),
    });
    if (settled.held)
      opts.log('warn', `No VHD of this VM was merged or removed as unreferenced, ${settled.held}.`, ctx);
    for (const p of settled.problems) opts.log('warn', p, ctx);

    // The base: the previous point of this job on the remote, and the snapshot on the host its metadata
    // records (whatever step a kill interrupted, the metadata says which snapshot is the base).
    const listed = await folder.listPoints();
    const previous = listed.points.filter((p) => p.mode === 'delta' && p.jobId === opts.jobId).at(-1);
    const baseRef = await settleDeltaSnapshots(xapi, vmRef, {
      jobId: opts.jobId,
      recordedUuid: recordedSnapshotUuid(previous?.metadata.vmSnapshot),
      liveRuns: new Set([opts.runId]),
      keepUnconfirmed: listed.unreadable.length > 0,
    });
    await removeDeadRunLeftovers(xapi, opts.log, ctx);
    const baseDisks = baseRef ? await snapshotDisks(xapi, baseRef) : [];

    sampler.setPhase('snapshot');
    const when = await folder.freeTimestamp(new Date());
    const ts = formatTimestamp(when);
    snapRef = await takeBackupSnapshot(xapi, vmRef, vm.name, opts.runId, when, opts.jobId);
    const snapRecord = await xapi.call<Rec>('VM.get_record', snapRef);
    const disks = await snapshotDisks(xapi, snapRef);

    // Every disk reports its own progress (one after another or in parallel alike); the VM's sampler carries
    // the VM's phases and names its disks, so the ones not yet started show as waiting.
    sampler.disks = disks.map((d) => ({ uuid: d.liveVdiUuid, name: d.vdi.name_label }));
    sampler.setPhase('transfer');
    const vbds: Record<string, Rec> = {};
    const vdis: Record<string, Rec> = {};
    const vhds: Record<string, string> = {};
    const isVhdDifferencing: Record<string, boolean> = {};
    const results: DeltaBackupResult['disks'] = [];
    const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
    let total = 0;
    // Disks in parallel when asked: they share the VM's speed limit, buffer and spool.
    const parallel = Math.max(1, Math.min(opts.diskConcurrency ?? 1, disks.length));
    const bufferShare = {
      memoryCapBytes: Math.floor(opts.memoryBufferBytes / parallel),
      spoolCapBytes: Math.floor(opts.spoolCapBytes / parallel),
      spoolDir: opts.spoolDir,
    };
    const backupDisk = async (d: SnapshotDisk) => {
      const liveUuid = d.liveVdiUuid;
      const diskSampler = new ProgressSampler(
        {
          runId: opts.runId,
          vm,
          disk: { uuid: liveUuid, name: d.vdi.name_label },
          spoolCapBytes: bufferShare.spoolCapBytes,
        },
        opts.onProgress,
      );
      if (d.vdi.name_label.includes(NOBAK_MARK)) {
        opts.log('info', `Skipping disk "${d.vdi.name_label}": its name contains ${NOBAK_MARK}.`, ctx);
        diskSampler.stop('skipped');
        return;
      }
      const { key: rel, path: target } = folder.deltaDisk(opts.jobId, liveUuid, ts);
      const base = baseDisks.find((b) => b.vdi.snapshot_of === d.vdi.snapshot_of);
      const prevRel = previous ? folder.diskKeyOf(previous, opts.jobId, liveUuid) : undefined;
      let differencing = false;
      if (base && prevRel) {
        const chain = await folder.previousChain(prevRel);
        if ('problem' in chain) {
          opts.log(
            'warn',
            `The backup chain of disk "${d.vdi.name_label}" is broken on the remote (${chain.problem.message}); making a full VHD.`,
            ctx,
          );
        } else if (chain.uuid !== base.vdi.uuid) {
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
        } else differencing = true;
      } else if (previous || baseRef) {
        opts.log(
          'warn',
          `No usable base for disk "${d.vdi.name_label}" (${!base ? 'the base snapshot is gone from the host' : 'the previous VHD is missing on the remote'}); making a full VHD.`,
          ctx,
        );
      }
      const file = await AtomicFile.create(target);
      diskSampler.phase = 'transfer';
      diskSampler.start();
      try {
        const summary = await retryFromStart(
          `the export of disk "${d.vdi.name_label}"`,
          { policy: opts.retry, signal: opts.signal, log: opts.log, context: ctx },
          async (attempt) => {
            if (attempt > 1) await file.handle.truncate(0);
            return exportDisk(attempt);
          },
        );
        await file.commit();
        uncommitted.push(rel);
        // After the VHD is in place (its size and mtime are final); before the metadata that commits the point.
        await writeDigestsFile(target, summary.digests, summary.metadata, writeFileAtomic);
        total += summary.streamBytes;
        results.push({
          vdiUuid: liveUuid,
          name: d.vdi.name_label,
          path: target,
          differencing,
          bytes: summary.streamBytes,
        });
        diskSampler.stop('done');
      } catch (err) {
        diskSampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
        await file.abort();
        throw err;
      }

      async function exportDisk(attempt: number) {
        const taskRef = await createOwnedTask(
          xapi,
          'Sluice delta export',
          `${vm.name} ${d.vdi.name_label}`,
          opts.runId,
        );
        let stream: HostStream | undefined;
        try {
          stream = await openHostDownload(
            xapi,
            '/export_raw_vdi',
            { vdi: d.ref, format: 'vhd', task_id: taskRef, ...(differencing ? { base: base!.ref } : {}) },
            { signal: opts.signal, context: { ...ctx, disk: d.vdi.name_label } },
          );
          const bridge = new StreamBridge();
          const silenceMs = opts.silenceLimitMs ?? 5 * 60_000;
          const transfer = new Transfer({
            source: withSilenceLimit(
              stream.body,
              silenceMs,
              () => silenceError(silenceMs, ctx),
              (e) => stream?.abort(e),
            ),
            sink: bridge,
            buffer: bufferShare,
            throttle,
            signal: opts.signal,
            onFailure: (e) => stream?.abort(e),
          });
          diskSampler.restart(attempt, transfer.counters);
          const moving = transfer.run().then(
            () => bridge.end(),
            (e: unknown) => {
              bridge.fail(e);
              throw e;
            },
          );
          const written = writeVhdStreamToFile(bridge, target, {
            handle: file.handle,
            source: `${vm.name} / ${d.vdi.name_label}`,
            ...(differencing ? { parentName: path.basename(prevRel!), expectedParentUuid: base!.vdi.uuid } : {}),
          }).catch((e: unknown) => {
            // A write that failed on the remote (full, read-only, gone) is said in words, naming the file.
            const err = (e as NodeJS.ErrnoException)?.code ? describeFsError(e, target, 'write') : e;
            stream?.abort(err);
            throw err;
          });
          const [, summary] = await Promise.all([moving, written]);
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
      vbds[d.vbdRef] = d.vbd;
      vdis[d.ref] = {
        ...d.vdi,
        $snapshot_of$uuid: liveUuid,
        $SR$uuid: d.srUuid,
        other_config: {
          ...(d.vdi.other_config as Rec),
          ...(differencing ? { 'xo:base_delta_vdi': base!.vdi.uuid } : {}),
        },
      };
      vhds[d.ref] = rel;
      isVhdDifferencing[d.ref] = differencing;
    };
    await forEachLimited(disks, parallel, backupDisk);
    results.sort(
      (a, b) =>
        disks.findIndex((d) => d.liveVdiUuid === a.vdiUuid) - disks.findIndex((d) => d.liveVdiUuid === b.vdiUuid),
    );

    sampler.setPhase('commit');
    const vifs: Record<string, Rec> = {};
    for (const vifRef of (snapRecord.VIFs as string[] | undefined) ?? [])
      vifs[vifRef] = await vifWithNetwork(xapi, vifRef);
    const metadata: DeltaMetadata = {
      jobId: opts.jobId,
      mode: 'delta',
      scheduleId: opts.scheduleId ?? '',
      timestamp: when.getTime(),
      version: METADATA_VERSION,
      vm: vmRecord,
      vmSnapshot: snapRecord,
      vbds,
      vdis,
      vifs,
      vhds,
      isVhdDifferencing,
      size: total,
      ...(opts.retention?.longTerm ? { tags: longTermTags(when) } : {}),
    };
    await folder.commitDeltaPoint(ts, metadata);
    uncommitted.length = 0;
    // From here the new snapshot is the recorded base: a failure must not destroy it.
    snapRef = undefined;

    sampler.setPhase('cleanup');
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
    opts.log('info', `Backed up ${vm.name} incrementally: ${total} bytes in ${results.length} disk(s).`, ctx);
    const retention = await runRetentionPhase(vm, opts, sampler, ctx, 'merge');
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

interface SnapshotDisk {
  ref: string;
  vbdRef: string;
  vbd: Rec;
  vdi: Rec & { uuid: string; name_label: string; snapshot_of: string };
  liveVdiUuid: string;
  srUuid: string;
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
