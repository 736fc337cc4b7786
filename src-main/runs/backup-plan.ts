import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import { runDeltaBackup, type DeltaBackupResult } from '../backup/delta-backup.js';
import { forEachLimited } from '../backup/for-each-limited.js';
import { runFullBackup, type FullBackupResult } from '../backup/full-backup.js';
import type { SelectedVm } from '../backup/vm-selection.js';
import type { BackupLog } from '../core/run-log.js';
import type { RetentionPolicy } from '../repository/index.js';
import type { XapiSession } from '../xapi/xapi-session.js';

/**
 * A backup run, whoever asked for it (`sluice backup`, "Back up now", a job's schedule): which VMs go to which
 * remotes, in which mode, within which limits. One runner executes every plan, so the per-VM loop, the way
 * limits are shared among VMs in flight and what a failure stops are the same for all three.
 */
export interface BackupPlan {
  runId: string;
  jobId: string;
  mode: 'full' | 'delta';
  vms: readonly SelectedVm[];
  /** Each VM goes to each remote in turn; a remote's root is its folder. */
  remotes: ReadonlyArray<{ id: string; root: string; useVhdDirectory?: boolean }>;
  limits: PlanLimits;
  compression: 'none' | 'zstd';
  scheduleId?: string;
  retention?: RetentionPolicy;
  fullInterval?: number;
  diskConcurrency?: number;
  retry?: BackupRunOptions['retry'];
}

/** For the whole run: VMs in flight share them equally. */
export interface PlanLimits {
  vmConcurrency: number;
  speedLimitBytesPerSec: number | null;
  memoryBufferBytes: number;
  spoolDir: string;
  spoolCapBytes: number;
}

export type VmBackupResult = { mode: 'full'; result: FullBackupResult } | { mode: 'delta'; result: DeltaBackupResult };

/** The backup of one VM to one remote: the real ones by default, a test may count calls through them. */
export interface BackupFunctions {
  full: typeof runFullBackup;
  delta: typeof runDeltaBackup;
}

export interface PlanHooks {
  signal: AbortSignal;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
  /** Awaited before the VM starts (a recorder saves the run). */
  vmStarted?: (vm: SelectedVm, remoteId: string) => Promise<void> | void;
  vmSucceeded: (vm: SelectedVm, remoteId: string, r: VmBackupResult) => Promise<void> | void;
  vmFailed: (vm: SelectedVm, remoteId: string, err: unknown) => Promise<void> | void;
  backup?: BackupFunctions;
}

const REAL: BackupFunctions = { full: runFullBackup, delta: runDeltaBackup };

/** What one VM in flight gets of the run's limits: the speed limit, the buffer and the spool are shared. */
export function perVmLimits(limits: PlanLimits, vmCount: number) {
  const slots = Math.max(1, Math.min(limits.vmConcurrency, vmCount));
  return {
    slots,
    speedLimitBytesPerSec: limits.speedLimitBytesPerSec
      ? Math.max(1, Math.floor(limits.speedLimitBytesPerSec / slots))
      : null,
    memoryBufferBytes: Math.max(1024 * 1024, Math.floor(limits.memoryBufferBytes / slots)),
    spoolCapBytes: Math.floor(limits.spoolCapBytes / slots),
  };
}

/**
 * Runs a plan: VMs `vmConcurrency` at a time, the remotes of one VM in turn. A VM that fails does not stop
 * the others (the hooks hear why); cancelling stops starting new ones, and those in flight clean up.
 */
export async function runBackupPlan(xapi: XapiSession, plan: BackupPlan, hooks: PlanHooks): Promise<void> {
  const fns = hooks.backup ?? REAL;
  const share = perVmLimits(plan.limits, plan.vms.length);
  await forEachLimited(plan.vms, share.slots, async (vm) => {
    for (const remote of plan.remotes) {
      if (hooks.signal.aborted) return;
      await hooks.vmStarted?.(vm, remote.id);
      const opts: BackupRunOptions = {
        runId: plan.runId,
        jobId: plan.jobId,
        ...(plan.scheduleId !== undefined ? { scheduleId: plan.scheduleId } : {}),
        ...(plan.retention ? { retention: plan.retention } : {}),
        remoteRoot: remote.root,
        ...(remote.useVhdDirectory ? { useVhdDirectory: true } : {}),
        compression: plan.mode === 'full' ? plan.compression : 'none',
        memoryBufferBytes: share.memoryBufferBytes,
        spoolDir: plan.limits.spoolDir,
        spoolCapBytes: share.spoolCapBytes,
        speedLimitBytesPerSec: share.speedLimitBytesPerSec,
        ...(plan.fullInterval ? { fullInterval: plan.fullInterval } : {}),
        ...(plan.diskConcurrency !== undefined ? { diskConcurrency: plan.diskConcurrency } : {}),
        ...(plan.retry ? { retry: plan.retry } : {}),
        signal: hooks.signal,
        log: hooks.log,
        onProgress: hooks.onProgress,
      };
      let result: VmBackupResult;
      try {
        result =
          plan.mode === 'full'
            ? { mode: 'full', result: await fns.full(xapi, vm.ref, opts) }
            : { mode: 'delta', result: await fns.delta(xapi, vm.ref, opts) };
      } catch (err) {
        await hooks.vmFailed(vm, remote.id, err);
        continue;
      }
      await hooks.vmSucceeded(vm, remote.id, result);
    }
  });
}
