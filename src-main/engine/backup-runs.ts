import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { BackupRunResult } from '../../src-shared/ipc-contract.js';
import { runDeltaBackup } from '../backup/delta-backup.js';
import { runFullBackup } from '../backup/full-backup.js';
import { resolveVms } from '../backup/vm-selection.js';
import { SluiceError } from '../errors/sluice-error.js';
import { preflightRemote } from '../remotes/folder-remote.js';
import type { EngineContext } from './engine-context.js';
import type { PoolConnections } from './pool-connections.js';

export interface StartBackup {
  hostId: string;
  vmUuids: string[];
  remoteId: string;
  mode: 'full' | 'delta';
  compression: 'none' | 'zstd';
  speedLimitBytesPerSec: number | null;
  jobId?: string;
}

/** Backup runs started from the UI: each with its own cancel, progress out as events, a result at the end. */
export class BackupRuns {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly pools: PoolConnections,
  ) {}

  async start(req: StartBackup): Promise<{ runId: string; done: Promise<BackupRunResult> }> {
    const s = this.ctx.settings.get();
    const remote = s.remotes.find((r) => r.id === req.remoteId);
    if (!remote) throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', { hint: 'Pick another remote, or add it again.' });
    const xapi = await this.pools.session(req.hostId);
    // A configured remote that is missing is an unmounted share: never create it on the local disk instead.
    await preflightRemote(remote.path, { create: false });
    const prefs = s.preferences;
    const spoolDir = prefs.spoolDir ?? os.tmpdir();
    const spool = await preflightRemote(spoolDir, { purpose: 'spool' });
    const runId = randomUUID();
    const controller = new AbortController();
    this.running.set(runId, controller);
    const log = (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, string>) =>
      this.ctx.bus.emit('engine.log', { level, message, at: new Date().toISOString(), context: { runId, ...context } });
    const startedAt = new Date().toISOString();
    const done = (async (): Promise<BackupRunResult> => {
      const vms: BackupRunResult['vms'] = [];
      try {
        const { selected, skipped } = await resolveVms(xapi, req.vmUuids);
        for (const sk of skipped) log('info', `Skipping ${sk.name}: ${sk.reason}.`, { vm: sk.name });
        for (const vm of selected) {
          if (controller.signal.aborted) break;
          try {
            const runBackup = req.mode === 'delta' ? runDeltaBackup : runFullBackup;
            const r = await runBackup(xapi, vm.ref, {
              runId,
              jobId: req.jobId ?? 'sluice-ui',
              remoteRoot: remote.path,
              compression: req.compression,
              memoryBufferBytes: prefs.memoryBufferBytes,
              spoolDir,
              spoolCapBytes: Math.min(prefs.spoolCapBytes, Math.floor(spool.freeBytes / 2)),
              speedLimitBytesPerSec: req.speedLimitBytesPerSec ?? prefs.defaultSpeedLimitBytesPerSec,
              signal: controller.signal,
              log,
              onProgress: (p) => this.ctx.bus.emit('backup.progress', p),
            });
            vms.push({ vmUuid: vm.uuid, vmName: vm.name, ok: true, pointId: r.pointId, bytes: r.bytes, attempts: 'attempts' in r ? r.attempts : 1, error: null });
          } catch (err) {
            const e = err instanceof SluiceError ? err : new SluiceError('INTERNAL', (err as Error).message);
            log('error', `${vm.name}: ${e.message}`, { vm: vm.name });
            vms.push({ vmUuid: vm.uuid, vmName: vm.name, ok: false, pointId: null, bytes: 0, attempts: 0, error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
          }
        }
      } catch (err) {
        const e = err instanceof SluiceError ? err : new SluiceError('INTERNAL', (err as Error).message);
        log('error', e.message);
        vms.push({ vmUuid: '', vmName: '', ok: false, pointId: null, bytes: 0, attempts: 0, error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
      } finally {
        this.running.delete(runId);
      }
      const result: BackupRunResult = {
        runId,
        ok: vms.length > 0 && vms.every((v) => v.ok),
        cancelled: controller.signal.aborted,
        vms,
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      this.ctx.bus.emit('backup.finished', result);
      return result;
    })();
    return { runId, done };
  }

  cancel(runId: string): boolean {
    const c = this.running.get(runId);
    if (!c) return false;
    c.abort(new SluiceError('CANCELLED', 'Cancelled by the user.'));
    return true;
  }

  cancelAll(): void {
    for (const c of this.running.values()) c.abort(new SluiceError('CANCELLED', 'Sluice is stopping.'));
  }
}
