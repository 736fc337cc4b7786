import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from '../remotes/remote.js';
import { applyRetention, BackupFolder, listBackupPoints, type BackupPoint } from '../repository/index.js';
import { copyPoint } from './point-copy.js';

export interface MirrorRequest {
  from: Remote;
  to: Remote;
  /** VM names or uuids; all of the source's VMs when empty. */
  vms?: readonly string[];
  /** Points kept on the target per VM, job and mode (XO's mirror retention); all are copied and kept when absent. */
  retention?: number | undefined;
  runId: string;
  signal?: AbortSignal | undefined;
  log: BackupLog;
  onProgress?: ((p: TransferProgress) => void) | undefined;
  /** Memory between reads and writes of each file (default 32 MiB). */
  memoryBufferBytes?: number;
}

export interface MirrorResult {
  copied: Array<{ vm: string; point: string; bytes: number; files: number; reused: number }>;
  alreadyThere: number;
  deletedOnTarget: Array<{ vm: string; point: string }>;
  failed: Array<{ vm: string; point: string; error: SluiceError | Error }>;
}

/**
 * Copies the points of one repository into another without touching any host (XO's mirror job): per VM, job
 * and mode, the points the target lacks, oldest first (a chain's base before its deltas), then the target's
 * retention. With a retention of N only what the target will keep is sent: the newest N of the source's and
 * the target's points together. A point that fails stops its own series (its deltas need it) but not others.
 */
export async function runMirror(req: MirrorRequest): Promise<MirrorResult> {
  if (req.from.label === req.to.label)
    throw new SluiceError('VALIDATION', `The source and the target are the same remote (${req.from.label}).`, {
      hint: 'Give a second remote with --to.',
    });
  const source = await listBackupPoints(req.from);
  for (const u of source.unreadable)
    req.log('warn', `Skipped ${u.path} on the source: ${u.reason}.`, { remote: req.from.label });
  const wanted = selectVms(source.points, req.vms ?? []);
  const targetPoints = (await listBackupPoints(req.to)).points;
  const result: MirrorResult = { copied: [], alreadyThere: 0, deletedOnTarget: [], failed: [] };
  for (const series of groupSeries(wanted)) {
    const first = series[0]!;
    const onTarget = new Set(targetPoints.filter((p) => seriesKeyOf(p) === seriesKeyOf(first)).map((p) => p.id));
    const toCopy = series.filter((p) => !onTarget.has(p.id) && kept(p, series, onTarget, req.retention));
    result.alreadyThere += series.filter((p) => onTarget.has(p.id)).length;
    if (toCopy.length === 0 && req.retention === undefined) continue;
    req.signal?.throwIfAborted();
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
          { keep: req.retention },
          { log: (m) => req.log('info', m, { vm: first.vmName }), ...(req.signal ? { signal: req.signal } : {}) },
        );
        for (const d of outcome.deleted) result.deletedOnTarget.push({ vm: first.vmName, point: d.id });
      }
    } finally {
      await release();
    }
  }
  return result;
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
      result.copied.push({ vm: point.vmName, point: point.id, bytes, files, reused });
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

/** Points by VM, job and mode, each series oldest first. */
function groupSeries(points: BackupPoint[]): BackupPoint[][] {
  const by = new Map<string, BackupPoint[]>();
  for (const p of points) by.set(seriesKeyOf(p), [...(by.get(seriesKeyOf(p)) ?? []), p]);
  return [...by.values()].map((s) => s.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime()));
}

/** Whether the target's retention would keep the point: among the newest N of the series on both sides. */
function kept(
  point: BackupPoint,
  series: BackupPoint[],
  onTarget: Set<string>,
  retention: number | undefined,
): boolean {
  if (retention === undefined) return true;
  const ids = [...new Set([...series.map((p) => p.id), ...onTarget])].sort().reverse();
  return ids.slice(0, retention).includes(point.id);
}
