import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { Job, JobSchedule } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import type { BackupLog } from '../core/run-log.js';
import { SluiceError } from '../errors/sluice-error.js';
import { preflightOpenedRemote } from '../remotes/remote-preflight.js';
import { openExistingRemote } from '../remotes/remote-registry.js';
import { runBackupPlan, type BackupFunctions, type BackupPlan, type PlanHooks } from '../runs/backup-plan.js';
import { spoolBudget, type SpoolBudget } from '../runs/spool-budget.js';
import type { Settings } from '../settings/settings-schema.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { SelectedVm } from '../backup/vm-selection.js';
import { resolveJobVms, type JobVms } from './job-vm-selection.js';
import { vmOutcome, type RunRecorder } from './run-recorder.js';
import { configuredRemotes, type ConfiguredRemote } from './job-remotes.js';

export type { BackupFunctions };

export interface JobRunContext {
  job: Job;
  schedule: JobSchedule | null;
  settings: Settings;
  recorder: RunRecorder;
  signal: AbortSignal;
  session: (hostId: string) => Promise<XapiSession>;
  backup: BackupFunctions;
  now: () => Date;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
  /** Tests shorten retries; production uses the backup functions' default. */
  retry?: BackupRunOptions['retry'];
  /** Sluice's data folder: where the remotes it marked are remembered (an unmounted share is then refused). */
  dataDir?: string;
}

/**
 * One run of a job: resolve the VMs now, then run them as a plan (runs/backup-plan.ts), with the schedule's
 * retention and the job's limits, full interval and disk concurrency. A VM that fails does not stop the
 * others; the record says why.
 */
export async function executeJobRun(c: JobRunContext): Promise<RunSummary> {
  const { job, recorder, settings } = c;
  try {
    const known = configuredRemotes(job, settings, recorder);
    if (job.hostId === undefined) throw new SluiceError('VALIDATION', `The job "${job.name}" names no pool.`);
    const xapi = await c.session(job.hostId);
    const vms = await resolveJobVms(xapi, job.vms);
    recordSelection(c, vms);
    recorder.plan(
      vms.selected,
      known.map((r) => r.id),
    );
    await recorder.save();
    const usable = await usableRemotes(c, known, vms.selected);
    const spool = await spoolBudget(settings.preferences.spoolCapBytes, settings.preferences.spoolDir);
    await runBackupPlan(xapi, jobPlan(c, vms.selected, usable, spool), recordingHooks(c));
  } catch (err) {
    if (!c.signal.aborted) recorder.error(err);
  }
  return recorder.finish(c.now(), c.signal.aborted);
}

function recordSelection(c: JobRunContext, vms: JobVms): void {
  for (const s of vms.skipped) c.recorder.warn(`Skipped ${s.name}: ${s.reason}.`, c.now(), { vm: s.name });
  for (const uuid of vms.missing) {
    c.recorder.error(
      new SluiceError('NOT_FOUND', `The VM ${uuid} that the job names is no longer on the pool.`, {
        hint: 'Remove it from the job if it was deleted on purpose.',
        context: { vm: uuid },
      }),
    );
  }
}

// A remote that is not there (an unmounted share) fails its part of the run, not the others.
async function usableRemotes(
  c: JobRunContext,
  known: ConfiguredRemote[],
  vms: SelectedVm[],
): Promise<Array<{ id: string; root: string; useVhdDirectory?: boolean }>> {
  const usable: Array<{ id: string; root: string; useVhdDirectory?: boolean }> = [];
  for (const r of known) {
    try {
      const opened = await openExistingRemote(r.path, { dataDir: c.dataDir, forWriting: c.dataDir !== undefined });
      await preflightOpenedRemote(opened);
      usable.push({
        id: r.id,
        root: r.path,
        ...(r.kind === 'folder' && r.useVhdDirectory ? { useVhdDirectory: true } : {}),
      });
    } catch (err) {
      for (const vm of vms) c.recorder.vmFailed(vm.uuid, r.id, err, false, c.now());
    }
  }
  return usable;
}

function jobPlan(
  c: JobRunContext,
  vms: SelectedVm[],
  remotes: Array<{ id: string; root: string; useVhdDirectory?: boolean }>,
  spool: SpoolBudget,
): BackupPlan {
  const { job } = c;
  const prefs = c.settings.preferences;
  return {
    runId: c.recorder.summary.runId,
    jobId: job.id,
    mode: job.mode,
    vms,
    remotes,
    // The job's speed limit is for the whole job; the buffer and spool of the preferences too.
    limits: {
      vmConcurrency: job.vmConcurrency,
      speedLimitBytesPerSec: job.speedLimitBytesPerSec ?? prefs.defaultSpeedLimitBytesPerSec,
      memoryBufferBytes: prefs.memoryBufferBytes,
      spoolDir: spool.dir,
      spoolCapBytes: spool.capBytes,
    },
    compression: job.compression,
    // Long-term buckets are the schedule's days, weeks, months and years, in its own time zone.
    ...(c.schedule
      ? { scheduleId: c.schedule.id, retention: { ...c.schedule.retention, timeZone: c.schedule.timezone } }
      : {}),
    ...(job.fullInterval > 0 ? { fullInterval: job.fullInterval } : {}),
    diskConcurrency: job.diskConcurrency,
    ...(c.retry ? { retry: c.retry } : {}),
  };
}

/** Every VM's start and end goes into the run's record, saved as it happens. */
function recordingHooks(c: JobRunContext): PlanHooks {
  const { recorder } = c;
  return {
    signal: c.signal,
    log: c.log,
    onProgress: c.onProgress,
    backup: c.backup,
    vmStarted: async (vm, remoteId) => {
      recorder.vmStarted(vm.uuid, remoteId, c.now());
      await recorder.save();
    },
    vmSucceeded: async (vm, remoteId, r) => {
      recorder.vmSucceeded(vm.uuid, remoteId, vmOutcome(vm.name, r), c.now());
      await recorder.save(true);
    },
    vmFailed: async (vm, remoteId, err) => {
      recorder.vmFailed(vm.uuid, remoteId, err, c.signal.aborted, c.now());
      c.log('error', `${vm.name}: ${(err as Error).message}`, { vm: vm.name });
      await recorder.save(true);
    },
  };
}
