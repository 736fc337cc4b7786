import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from '../remotes/remote.js';
import {
  applyRetention,
  BackupFolder,
  listBackupPoints,
  planRetention,
  type BackupPoint,
  type RetentionPolicy,
} from '../repository/index.js';
import { copyPoint } from './point-copy.js';

export interface MirrorRequest {
  from: Remote;
  to: Remote;
  /** VM names or uuids; all of the source's VMs when empty. */
  vms?: readonly string[];
  /** Only the points of this mode (a mirror job's); both when absent. */
  mode?: 'full' | 'delta' | undefined;
  /**
   * What the target keeps per VM, job and mode (XO's mirror retention, long-term buckets included); only what it
   * keeps is sent. Everything is copied and kept when absent.
   */
  retention?: RetentionPolicy | undefined;
  runId: string;
  signal?: AbortSignal | undefined;
  log: BackupLog;
  onProgress?: ((p: TransferProgress) => void) | undefined;
  /** Memory between reads and writes of each file (default 32 MiB). */
  memoryBufferBytes?: number;
  /** Per VM, for a job's run record. */
  hooks?: MirrorHooks;
}

export interface MirrorHooks {
  vmStarted(vm: MirrorVm): Promise<void>;
  vmDone(vm: MirrorVm, r: MirrorVmResult): Promise<void>;
  vmFailed(vm: MirrorVm, err: unknown): Promise<void>;
}

export interface MirrorVm {
  uuid: string;
  name: string;
}

export interface MirrorVmResult {
  copied: CopiedPoint[];
  bytes: number;
  durationMs: number;
  /** The newest point of the VM now on the target. */
  newestPointId: string | undefined;
}

export interface CopiedPoint {
  vm: string;
  point: string;
  mode: 'full' | 'delta';
  bytes: number;
  files: number;
  reused: number;
}

export interface MirrorResult {
  copied: CopiedPoint[];
  alreadyThere: number;
  deletedOnTarget: Array<{ vm: string; point: string }>;
  failed: Array<{ vm: string; point: string; error: SluiceError | Error }>;
}

/**
 * Copies the points of one repository into another without touching any host (XO's mirror job): per VM, job
 * and mode, the points the target lacks, oldest first (a chain's base before its deltas), then the target's
 * retention. With a retention only what the target will keep is sent: what the policy keeps of the source's
 * and the target's points together. A point that fails stops its own series (its deltas need it) but not others.
 */
export async function runMirror(req: MirrorRequest): Promise<MirrorResult> {
  if (req.from.label === req.to.label)
    throw new SluiceError('VALIDATION', `The source and the target are the same remote (${req.from.label}).`, {
      hint: 'Mirror to another remote.',
    });
  const source = await listBackupPoints(req.from);
  for (const u of source.unreadable)
    req.log('warn', `Skipped ${u.path} on the source: ${u.reason}.`, { remote: req.from.label });
  const wanted = selectVms(source.points, req.vms ?? []).filter((p) => !req.mode || p.mode === req.mode);
  const targetPoints = (await listBackupPoints(req.to)).points;
  const result: MirrorResult = { copied: [], alreadyThere: 0, deletedOnTarget: [], failed: [] };
  for (const [vm, seriesOfVm] of groupByVm(wanted)) {
    req.signal?.throwIfAborted();
    const started = performance.now();
    const before = { copied: result.copied.length, failed: result.failed.length };
    await req.hooks?.vmStarted(vm);
    try {
      for (const series of seriesOfVm) await mirrorSeries(req, series, targetPoints, result);
    } catch (err) {
      // The VM folder could not be opened or locked (a backup of it is running), or retention failed: this
      // VM's part fails, the others go on.
      if (req.signal?.aborted) {
        await req.hooks?.vmFailed(vm, err);
        throw err;
      }
      const error = err instanceof Error ? err : new Error(String(err));
      result.failed.push({ vm: vm.name, point: '', error });
      req.log('error', `Could not mirror ${vm.name}: ${error.message}`, { vm: vm.name });
    }
    const failed = result.failed.slice(before.failed);
    if (failed.length > 0) {
      await req.hooks?.vmFailed(vm, failed[0]!.error);
      continue;
    }
    const copied = result.copied.slice(before.copied);
    // Only this VM's folder, not the whole target again for each VM.
    const now = (await (await BackupFolder.open(req.to, vm.uuid)).listPoints()).points;
    await req.hooks?.vmDone(vm, {
      copied,
      bytes: copied.reduce((n, c) => n + c.bytes, 0),
      durationMs: performance.now() - started,
      newestPointId: now.at(-1)?.id,
    });
  }
  return result;
}

/** One VM's points of one job and mode on the target: copies, the chains' settling and retention. */
async function mirrorSeries(
  req: MirrorRequest,
  series: BackupPoint[],
  targetPoints: BackupPoint[],
  result: MirrorResult,
): Promise<void> {
  const first = series[0]!;
  const targetSeries = targetPoints.filter((p) => seriesKeyOf(p) === seriesKeyOf(first));
  const onTarget = new Set(targetSeries.map((p) => p.id));
  const keep = keptIds([...series, ...targetSeries], req.retention);
  const toCopy = series.filter((p) => !onTarget.has(p.id) && keep.has(p.id));
  result.alreadyThere += series.filter((p) => onTarget.has(p.id)).length;
  if (toCopy.length === 0 && req.retention === undefined) return;
  // One writer per VM folder, as for a backup: copies, the chains' settling and retention all under it.
  const folder = await BackupFolder.open(req.to, first.vmUuid);
  const release = await folder.lock(`Sluice mirror ${req.runId}`);
  try {
    await copySeries(req, folder, toCopy, result);
    // Copying the newest points of a chain brings its older files too; as on any repository, VHDs no point
    // names any more fold into the chain (merged), so the target holds what its points need and no more.
    if (first.mode === 'delta') await settleTargetChains(req, folder, first);
    if (req.retention !== undefined) {
      const outcome = await applyRetention(
        req.to,
        first.vmUuid,
        { jobId: first.jobId, mode: first.mode },
        req.retention,
        { log: (m) => req.log('info', m, { vm: first.vmName }), ...(req.signal ? { signal: req.signal } : {}) },
      );
      for (const d of outcome.deleted) result.deletedOnTarget.push({ vm: first.vmName, point: d.id });
    }
  } finally {
    await release();
  }
}

/** The points of one series, oldest first; the first that fails ends the series (the next ones build on it). */
async function copySeries(
  req: MirrorRequest,
  folder: BackupFolder,
  points: BackupPoint[],
  result: MirrorResult,
): Promise<void> {
  for (const point of points) {
    req.signal?.throwIfAborted();
    try {
      const done = await copyPoint(point, req.to, folder, req);
      if (done.state === 'present') {
        result.alreadyThere++;
        continue;
      }
      const { bytes, files, reused } = done;
      result.copied.push({ vm: point.vmName, point: point.id, mode: point.mode, bytes, files, reused });
      req.log('info', `Copied ${point.vmName} ${point.id} (${point.mode}) to ${req.to.label}.`, { vm: point.vmName });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      const error = err instanceof Error ? err : new Error(String(err));
      result.failed.push({ vm: point.vmName, point: point.id, error });
      req.log('error', `Could not copy ${point.vmName} ${point.id}: ${error.message}`, { vm: point.vmName });
      return;
    }
  }
}

async function settleTargetChains(req: MirrorRequest, folder: BackupFolder, first: BackupPoint): Promise<void> {
  const settled = await folder.settleChains(first.jobId, { log: (m) => req.log('info', m, { vm: first.vmName }) });
  if (settled.held) req.log('warn', `Chains of ${first.vmName} on the target left as they are: ${settled.held}.`);
  for (const p of settled.problems) req.log('warn', p, { vm: first.vmName });
}

/** The points of the named VMs (by name or uuid); a name that matches nothing is an error, not an empty copy. */
function selectVms(points: BackupPoint[], vms: readonly string[]): BackupPoint[] {
  if (vms.length === 0) return points;
  for (const v of vms)
    if (!points.some((p) => p.vmName === v || p.vmUuid === v))
      throw new SluiceError('NOT_FOUND', `The source has no backup of a VM named "${v}".`, {
        hint: 'Run `npx sluice list --remote <source>` to see the VMs it holds.',
        context: { vm: v },
      });
  return points.filter((p) => vms.includes(p.vmName) || vms.includes(p.vmUuid));
}

const seriesKeyOf = (p: BackupPoint): string => `${p.vmUuid}\0${p.jobId}\0${p.mode}`;

/** Per VM (named as its newest point names it), its series by job and mode, each oldest first. */
function groupByVm(points: BackupPoint[]): Map<MirrorVm, BackupPoint[][]> {
  const series = new Map<string, BackupPoint[]>();
  for (const p of points) series.set(seriesKeyOf(p), [...(series.get(seriesKeyOf(p)) ?? []), p]);
  const byVm = new Map<string, BackupPoint[][]>();
  for (const s of series.values()) {
    s.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
    byVm.set(s[0]!.vmUuid, [...(byVm.get(s[0]!.vmUuid) ?? []), s]);
  }
  const out = new Map<MirrorVm, BackupPoint[][]>();
  for (const [uuid, all] of byVm) {
    const newest = all.flat().sort((a, b) => b.timestamp.getTime() - a.timestamp.getTime())[0]!;
    out.set({ uuid, name: newest.vmName }, all);
  }
  return out;
}

/** The ids the target's retention keeps of a series (source and target points together); all without one. */
function keptIds(points: BackupPoint[], retention: RetentionPolicy | undefined): Set<string> {
  if (retention === undefined) return new Set(points.map((p) => p.id));
  const unique = new Map(points.map((p) => [p.id, p]));
  const plan = planRetention(
    [...unique.values()].map((p) => ({ id: p.id, timestamp: p.timestamp.getTime(), tags: p.metadata.tags })),
    retention,
  );
  return new Set(plan.keep.map((k) => k.id));
}
