import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ParsedRequestOf } from '../../src-shared/contract/index.js';
import type { OperationFinished } from '../../src-shared/contract/points.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { mergeProgressTracker } from '../backup/retention-phase.js';
import { requireExportFolder } from '../export/export-destination.js';
import { exportPoint } from '../export/export-point.js';
import { SluiceError, toIpcError } from '../errors/sluice-error.js';
import {
  fullPointDisks,
  deltaPointDisks,
  pickDisk,
  deleteBackupPoint,
  listBackupPoints,
  type BackupPoint,
  BackupFolder,
  verifyPoint,
} from '../repository/index.js';
import { restoreDisk } from '../restore/restore-disk.js';
import type { RestoreOptions } from '../restore/restore-options.js';
import { restorePoint } from '../restore/restore-point.js';
import type { EngineContext } from './engine-context.js';
import type { PoolConnections } from './pool-connections.js';
import type { OperationKind, OperationRegistry } from '../runs/operation-registry.js';
import { spoolBudget } from '../runs/spool-budget.js';

type Kind = OperationFinished['kind'];
type Outcome = NonNullable<OperationFinished['result']>;
interface PointRef {
  remoteId: string;
  vmUuid: string;
  pointId: string;
}

/**
 * Restores, exports and verifies started from the UI. Each runs in the background with its own cancel; its
 * progress goes out as backup.progress (runId = operationId) and its end as operations.finished. What can be
 * refused before any work starts (unknown remote or point, unreachable pool, relative path) is refused by the
 * request itself, so the UI shows it at once instead of as a failed operation.
 */
/** An export never replaces a file the user already has: that would lose something to make something. */
async function refuseOverwrite(outPath: string, format: 'xva' | 'vhd' | 'raw'): Promise<void> {
  const st = await fs.stat(outPath).catch(() => null);
  if (!st) return;
  const problem = st.isFile()
    ? `${outPath} already exists; Sluice does not replace it`
    : format === 'xva' && st.isDirectory()
      ? `${outPath} is a folder; an XVA export needs a file name`
      : null;
  if (problem) {
    throw new SluiceError('VALIDATION', `${problem}.`, {
      hint: 'Choose another name, or move the existing file away first.',
      issues: [{ path: 'outPath', message: `${problem}: choose another name` }],
    });
  }
}

/** The kinds of run this service starts, in the engine's one registry of runs. */
const POINT_OPERATIONS: readonly OperationKind[] = ['restore', 'export', 'verify', 'delete'];

export class PointOperations {
  constructor(
    private readonly ctx: EngineContext,
    private readonly pools: PoolConnections,
    private readonly registry: OperationRegistry,
  ) {}

  async restore(req: ParsedRequestOf<'points.restore'>): Promise<{ operationId: string }> {
    const { point, points } = await this.findPoint(req);
    const xapi = await this.pools.session(req.hostId);
    return this.launch('restore', point, async (operationId, signal) => {
      const r = await restorePoint(xapi, point, {
        ...(await this.restoreOptions(operationId, signal, points)),
        srUuid: req.srUuid,
        diskSrs: req.srByDisk,
        name: req.name,
        start: req.start,
      });
      return {
        kind: 'restore',
        vmUuid: r.vmUuid,
        name: r.name,
        started: r.started,
        bytes: r.bytes,
        disks: r.disks.length,
      };
    });
  }

  /**
   * One disk of a point as a new VDI, attached to no VM (restoreDisk, as `sluice restore --disk` does). A disk
   * the point does not have is refused by the request, at its field, before anything is created.
   */
  async restoreDisk(req: ParsedRequestOf<'points.restoreDisk'>): Promise<{ operationId: string }> {
    const { point, points } = await this.findPoint(req);
    const disk = this.checkDisk(point, await this.pointDisks(point), req.disk);
    const xapi = await this.pools.session(req.hostId);
    return this.launch('restore', point, async (operationId, signal) => {
      const r = await restoreDisk(xapi, point, req.disk, {
        ...(await this.restoreOptions(operationId, signal, points)),
        srUuid: req.srUuid,
        name: req.name,
      });
      const srName = await xapi
        .call<string>('SR.get_by_uuid', r.srUuid)
        .then((ref) => xapi.call<string>('SR.get_name_label', ref))
        .catch(() => r.srUuid);
      return {
        kind: 'restore-disk',
        vdiUuid: r.vdiUuid,
        name: r.name,
        position: r.position,
        diskName: disk.name,
        srUuid: r.srUuid,
        srName,
        bytes: r.bytes,
      };
    });
  }

  private async restoreOptions(
    operationId: string,
    signal: AbortSignal,
    points: BackupPoint[],
  ): Promise<RestoreOptions> {
    const prefs = this.ctx.settings.get().preferences;
    // As backups do: the same spool folder and the same cap rule.
    const spool = await spoolBudget(prefs.spoolCapBytes, prefs.spoolDir);
    return {
      runId: operationId,
      memoryBufferBytes: prefs.memoryBufferBytes,
      spoolDir: spool.dir,
      spoolCapBytes: spool.capBytes,
      speedLimitBytesPerSec: prefs.defaultSpeedLimitBytesPerSec,
      points,
      signal,
      log: this.logger(operationId),
      onProgress: (p) => this.ctx.bus.emit('backup.progress', p),
    };
  }

  /** The disk a request names, or a refusal at its field that lists the point's disks. */
  private checkDisk<T extends { uuid: string; position: string; name: string }>(
    point: BackupPoint,
    disks: T[],
    wanted: string,
  ): T {
    try {
      return pickDisk(disks, wanted, point);
    } catch (err) {
      const e = err as SluiceError;
      throw new SluiceError('VALIDATION', e.message, {
        ...(e.hint ? { hint: e.hint } : {}),
        issues: [{ path: 'disk', message: `No disk "${wanted}" in this point: pick one of its disks` }],
      });
    }
  }

  private async pointDisks(
    point: BackupPoint,
  ): Promise<Array<{ uuid: string; position: string; name: string; virtualSize: number }>> {
    return point.mode === 'delta' ? deltaPointDisks(point) : (await fullPointDisks(point)).disks;
  }

  async export(req: ParsedRequestOf<'points.export'>): Promise<{ operationId: string }> {
    // The engine's working directory means nothing to the user: only a full path says where the file goes.
    if (!path.isAbsolute(req.outPath)) {
      throw new SluiceError('VALIDATION', `"${req.outPath}" is not a full path.`, {
        hint: 'Enter the full path of the output, e.g. /home/me/export/web01.xva.',
        issues: [{ path: 'outPath', message: 'Enter a full path, e.g. /home/me/export/web01.xva' }],
      });
    }
    await refuseOverwrite(req.outPath, req.format);
    await requireExportFolder(req.outPath);
    const { point } = await this.findPoint(req);
    if (req.disk !== undefined) this.checkDisk(point, await this.pointDisks(point), req.disk);
    return this.launch('export', point, async (operationId, signal) => {
      const r = await exportPoint(point, {
        format: req.format,
        out: req.outPath,
        ...(req.disk !== undefined ? { disk: req.disk } : {}),
        runId: operationId,
        signal,
        log: this.logger(operationId),
        onProgress: (p) => this.ctx.bus.emit('backup.progress', p),
      });
      return { kind: 'export', files: r.files.map((f) => ({ path: f.path, bytes: f.bytes })) };
    });
  }

  async verify(req: ParsedRequestOf<'points.verify'>): Promise<{ operationId: string }> {
    const { point } = await this.findPoint(req);
    return this.launch('verify', point, async (operationId, signal) => {
      const r = await verifyPoint(point, {
        runId: operationId,
        signal,
        onProgress: (p) => this.ctx.bus.emit('backup.progress', p),
      });
      return { kind: 'verify', bytes: r.bytes, structureOnly: r.structureOnly };
    });
  }

  /**
   * Deletes a point under its VM folder's lock (a backup or a retention of that VM waits, and vice versa); an
   * incremental point's disks are merged into the next point first, shown as the "merge" phase. A damaged
   * chain next to it keeps the point (damage is never merged into good data).
   */
  async delete(req: ParsedRequestOf<'points.delete'>): Promise<{ operationId: string }> {
    const { point, root } = await this.findPoint(req);
    return this.launch('delete', point, async (operationId, signal) => {
      const sampler = new ProgressSampler(
        { runId: operationId, vm: { uuid: point.vmUuid, name: point.vmName }, disk: null, spoolCapBytes: 0 },
        (p) => this.ctx.bus.emit('backup.progress', p),
      );
      sampler.start();
      sampler.setPhase(point.mode === 'delta' ? 'merge' : 'cleanup');
      const folder = await BackupFolder.open(root, point.vmUuid);
      const release = await folder.lock(`Sluice delete of ${point.id} (${operationId})`);
      try {
        const log = this.logger(operationId);
        const d = await deleteBackupPoint(root, point, {
          signal,
          log: (m) => log('info', m, { vm: point.vmName }),
          ...mergeProgressTracker(sampler),
        });
        for (const problem of d.collapse?.problems ?? []) log('warn', problem, { vm: point.vmName });
        sampler.stop('done');
        return {
          kind: 'delete',
          mode: d.mode,
          merged: d.collapse?.merged.length ?? 0,
          removed: d.collapse?.removed.length ?? 0,
        };
      } catch (err) {
        sampler.stop(signal.aborted ? 'cancelled' : 'failed');
        throw err;
      } finally {
        await release();
      }
    });
  }

  /** Every point takes an SR per disk (a full point's XVA is imported onto one, then its other disks moved). */
  async disks(
    ref: PointRef,
  ): Promise<{ perDiskSr: boolean; disks: Array<{ position: string; name: string; virtualSize: number }> }> {
    const { point } = await this.findPoint(ref);
    let disks: Awaited<ReturnType<PointOperations['pointDisks']>>;
    try {
      disks = await this.pointDisks(point);
    } catch (err) {
      // A zstd XVA's disk list is inside the compression: the whole VM still restores (the host decompresses),
      // onto one SR, and no single disk can be picked.
      if (point.mode === 'full' && err instanceof SluiceError && err.code === 'VALIDATION')
        return { perDiskSr: false, disks: [] };
      throw err;
    }
    return {
      perDiskSr: true,
      disks: disks.map((d) => ({ position: d.position, name: d.name, virtualSize: d.virtualSize })),
    };
  }

  cancel(operationId: string): boolean {
    return this.registry.cancel(operationId, POINT_OPERATIONS);
  }

  cancelAll(): void {
    this.registry.cancelAll(POINT_OPERATIONS);
  }

  private async findPoint(ref: PointRef): Promise<{ point: BackupPoint; points: BackupPoint[]; root: string }> {
    const remote = this.ctx.settings.get().remotes.find((r) => r.id === ref.remoteId);
    if (!remote)
      throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', {
        hint: 'Pick another remote, or add it again.',
      });
    const { points } = await listBackupPoints(remote.path);
    const point = points.find((p) => p.vmUuid === ref.vmUuid && p.id === ref.pointId);
    if (!point) {
      throw new SluiceError(
        'NOT_FOUND',
        `No backup point ${ref.pointId} of VM ${ref.vmUuid} on the remote "${remote.name}".`,
        {
          hint: 'It may have been removed by retention: refresh the Backups list and pick another point.',
        },
      );
    }
    return { point, points, root: remote.path };
  }

  private logger(operationId: string) {
    return (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, string>) =>
      this.ctx.bus.emit('engine.log', {
        level,
        message,
        at: new Date().toISOString(),
        context: { runId: operationId, ...context },
      });
  }

  private launch(
    kind: Kind,
    point: BackupPoint,
    work: (operationId: string, signal: AbortSignal) => Promise<Outcome>,
  ): { operationId: string } {
    const operationId = randomUUID();
    const op = this.registry.begin(operationId, kind);
    const end = (f: OperationFinished) => {
      op.end();
      this.finish(f);
    };
    const startedAt = new Date().toISOString();
    const base = { operationId, kind, vm: { uuid: point.vmUuid, name: point.vmName }, pointId: point.id, startedAt };
    void work(operationId, op.signal).then(
      (result) =>
        end({ ...base, ok: true, cancelled: false, result, error: null, finishedAt: new Date().toISOString() }),
      (err: unknown) => {
        const e = toIpcError(err);
        this.logger(operationId)('error', `${kind} of ${point.vmName} ${point.id}: ${e.message}`, { vm: point.vmName });
        end({
          ...base,
          ok: false,
          cancelled: op.signal.aborted,
          result: null,
          error: { code: e.code, message: e.message, ...(e.hint !== undefined ? { hint: e.hint } : {}) },
          finishedAt: new Date().toISOString(),
        });
      },
    );
    return { operationId };
  }

  private finish(f: OperationFinished): void {
    this.ctx.bus.emit('operations.finished', f);
  }
}
