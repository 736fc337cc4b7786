import { randomUUID } from 'node:crypto';
import type { BackupRunResult } from '../../src-shared/contract/backups.js';
import { BACKUP_NOW_JOB_ID } from '../../src-shared/contract/runs.js';
import { resolveVms, type SelectedVm } from '../backup/vm-selection.js';
import type { BackupLog } from '../core/run-log.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { RunHistory } from '../jobs/run-history.js';
import { RunRecorder, vmOutcome } from '../jobs/run-recorder.js';
import { preflightOpenedRemote } from '../remotes/remote-preflight.js';
import { openExistingRemote } from '../remotes/remote-registry.js';
import { runBackupPlan, type PlanLimits } from '../runs/backup-plan.js';
import { spoolBudget } from '../runs/spool-budget.js';
import type { OperationRegistry } from '../runs/operation-registry.js';
import type { EngineContext } from './engine-context.js';
import type { PoolConnections } from './pool-connections.js';

export interface StartBackup {
  hostId: string;
  vmUuids: string[];
  remoteId: string;
  mode: 'full' | 'delta';
  compression: 'none' | 'zstd';
  speedLimitBytesPerSec: number | null;
}

/** Where "Back up now" runs are recorded: the jobs' run history, once its interrupted runs are recovered. */
export interface BackupRunsHistory {
  history: RunHistory;
  /** Resolves once runs a dead process left "running" are marked interrupted (so this run's is never taken for one). */
  ready: () => Promise<void>;
}

/** "Back up now: web01", "Back up now: web01, db01", "Back up now: web01 and 4 more". */
export function backupNowName(vmNames: string[]): string {
  if (vmNames.length === 0) return 'Back up now';
  if (vmNames.length <= 2) return `Back up now: ${vmNames.join(', ')}`;
  return `Back up now: ${vmNames[0]} and ${vmNames.length - 1} more`;
}

/**
 * Backup runs started from the UI ("Back up now"): each with its own cancel, progress out as events, a result
 * at the end, and a record in the run history like a job's (jobId null), samples included, so the run, its
 * graph and its errors are still there after a restart.
 */
export class BackupRuns {
  constructor(
    private readonly ctx: EngineContext,
    private readonly pools: PoolConnections,
    private readonly records: BackupRunsHistory,
    private readonly registry: OperationRegistry,
  ) {}

  async start(req: StartBackup): Promise<{ runId: string; done: Promise<BackupRunResult> }> {
    const s = this.ctx.settings.get();
    const remote = s.remotes.find((r) => r.id === req.remoteId);
    if (!remote)
      throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', {
        hint: 'Pick another remote, or add it again.',
      });
    const xapi = await this.pools.session(req.hostId);
    // A configured remote that is missing is an unmounted share: never create it on the local disk instead.
    // The rule every CLI --remote follows too (a full path, already there); then it must be writable.
    const opened = await openExistingRemote(remote.path, { dataDir: this.ctx.dataDir, forWriting: true });
    await preflightOpenedRemote(opened);
    const prefs = s.preferences;
    const spool = await spoolBudget(prefs.spoolCapBytes, prefs.spoolDir);
    await this.records.ready();
    const runId = randomUUID();
    const recorder = new RunRecorder(this.records.history, {
      runId,
      job: { id: null, name: backupNowName([]), mode: req.mode },
      hostId: req.hostId,
      trigger: 'manual',
      scheduleId: null,
      scheduledFor: null,
      remotes: [{ id: remote.id, name: remote.name }],
      now: new Date(),
    });
    const run: NowRun = {
      req,
      runId,
      xapi,
      remote: {
        id: remote.id,
        root: remote.path,
        ...(remote.kind === 'folder' && remote.useVhdDirectory ? { useVhdDirectory: true } : {}),
      },
      limits: {
        vmConcurrency: 1,
        speedLimitBytesPerSec: req.speedLimitBytesPerSec ?? prefs.defaultSpeedLimitBytesPerSec,
        memoryBufferBytes: prefs.memoryBufferBytes,
        spoolDir: spool.dir,
        spoolCapBytes: spool.capBytes,
      },
      recorder,
      operation: this.registry.begin(runId, 'backup'),
      log: (level, message, context) => {
        if (level === 'warn') recorder.warn(message, new Date(), context);
        this.ctx.bus.emit('engine.log', {
          level,
          message,
          at: new Date().toISOString(),
          context: { runId, ...context },
        });
      },
      // The history is the record, not the backup: a data dir that cannot be written is said, the backup goes on.
      save: (withSamples = false) =>
        recorder.save(withSamples).catch((err: unknown) =>
          this.ctx.bus.emit('engine.log', {
            level: 'warn',
            message: `Could not write the run history: ${(err as Error).message}`,
            at: new Date().toISOString(),
            context: { runId },
          }),
        ),
    };
    await run.save(true);
    return { runId, done: this.execute(run) };
  }

  /** The run itself, in the background: VMs resolved now, the plan run, the record finished and announced. */
  private async execute(run: NowRun): Promise<BackupRunResult> {
    const { recorder, operation } = run;
    const startedAt = recorder.summary.startedAt;
    const vms: BackupRunResult['vms'] = [];
    try {
      const { selected, skipped } = await resolveVms(run.xapi, run.req.vmUuids);
      recorder.summary.jobName = backupNowName((selected.length ? selected : skipped).map((v) => v.name));
      for (const sk of skipped) {
        run.log('info', `Skipping ${sk.name}: ${sk.reason}.`, { vm: sk.name });
        recorder.warn(`Skipped ${sk.name}: ${sk.reason}.`, new Date(), { vm: sk.name });
      }
      if (selected.length === 0) {
        recorder.error(
          new SluiceError(
            'VALIDATION',
            `Nothing was backed up: ${skipped.map((sk) => `${sk.name} (${sk.reason})`).join(', ') || 'no VM picked'}.`,
            { hint: 'Pick a VM that backups do not exclude.' },
          ),
        );
      }
      recorder.plan(selected, [run.remote.id]);
      await run.save();
      await this.runPlan(run, selected, vms);
    } catch (err) {
      const e = asSluiceError(err);
      if (!operation.signal.aborted) recorder.error(e);
      run.log('error', e.message);
      vms.push(failedVm({ uuid: '', name: '' }, e));
    } finally {
      operation.end();
    }
    const summary = recorder.finish(new Date(), operation.signal.aborted);
    // Recorded before anyone hears of the end: a page that reloads on backup.finished finds the run there.
    await run.save(true);
    await this.records.history.prune(null).catch(() => 0);
    const result: BackupRunResult = {
      runId: run.runId,
      ok: vms.length > 0 && vms.every((v) => v.ok),
      cancelled: operation.signal.aborted,
      vms,
      startedAt,
      finishedAt: summary.finishedAt ?? new Date().toISOString(),
    };
    this.ctx.bus.emit('backup.finished', result);
    return result;
  }

  /** "Back up now" as a plan for the one runner, its hooks recording each VM and collecting the results. */
  private async runPlan(run: NowRun, selected: SelectedVm[], vms: BackupRunResult['vms']): Promise<void> {
    const { recorder, operation } = run;
    await runBackupPlan(
      run.xapi,
      {
        runId: run.runId,
        jobId: BACKUP_NOW_JOB_ID,
        mode: run.req.mode,
        vms: selected,
        remotes: [run.remote],
        limits: run.limits,
        compression: run.req.compression,
      },
      {
        signal: operation.signal,
        log: run.log,
        onProgress: (p) => {
          recorder.progress(p, new Date());
          this.ctx.bus.emit('backup.progress', p);
        },
        vmStarted: async (vm) => {
          recorder.vmStarted(vm.uuid, run.remote.id, new Date());
          await run.save();
        },
        vmSucceeded: async (vm, remoteId, r) => {
          const outcome = vmOutcome(vm.name, r);
          recorder.vmSucceeded(vm.uuid, remoteId, outcome, new Date());
          vms.push({
            vmUuid: vm.uuid,
            vmName: vm.name,
            ok: true,
            pointId: outcome.pointId,
            bytes: outcome.bytes,
            attempts: outcome.attempts,
            error: null,
          });
          await run.save(true);
        },
        vmFailed: async (vm, remoteId, err) => {
          const e = asSluiceError(err);
          recorder.vmFailed(vm.uuid, remoteId, err, operation.signal.aborted, new Date());
          run.log('error', `${vm.name}: ${e.message}`, { vm: vm.name });
          vms.push(failedVm(vm, e));
          await run.save(true);
        },
      },
    );
  }

  cancel(runId: string): boolean {
    return this.registry.cancel(runId, ['backup']);
  }

  cancelAll(): void {
    this.registry.cancelAll(['backup']);
  }
}

/** One "Back up now" run in flight: what start() prepared for execute(). */
interface NowRun {
  req: StartBackup;
  runId: string;
  xapi: XapiSession;
  remote: { id: string; root: string; useVhdDirectory?: boolean };
  limits: PlanLimits;
  recorder: RunRecorder;
  operation: { signal: AbortSignal; end: () => void };
  log: BackupLog;
  save: (withSamples?: boolean) => Promise<unknown>;
}

function asSluiceError(err: unknown): SluiceError {
  return err instanceof SluiceError ? err : new SluiceError('INTERNAL', (err as Error).message);
}

function failedVm(vm: { uuid: string; name: string }, e: SluiceError): BackupRunResult['vms'][number] {
  return {
    vmUuid: vm.uuid,
    vmName: vm.name,
    ok: false,
    pointId: null,
    bytes: 0,
    attempts: 0,
    error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) },
  };
}
