import os from 'node:os';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { Job, JobSchedule } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import type { BackupRunOptions } from '../backup/backup-options.js';
import type { BackupLog } from '../core/run-log.js';
import type { runDeltaBackup } from '../backup/delta-backup.js';
import type { runFullBackup } from '../backup/full-backup.js';
import { forEachLimited } from '../backup/for-each-limited.js';
import { SluiceError } from '../errors/sluice-error.js';
import { preflightRemote } from '../remotes/folder-remote.js';
import type { Settings } from '../settings/settings-schema.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { resolveJobVms } from './job-vm-selection.js';
import { vmOutcome, type RunRecorder } from './run-recorder.js';

/** The backup of one VM to one remote; the real ones by default, a test may count calls through them. */
export interface BackupFunctions {
  full: typeof runFullBackup;
  delta: typeof runDeltaBackup;
}

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
}

/**
 * One run of a job: resolve the VMs now, back each up to each remote (VMs `vmConcurrency` at a time, the
 * remotes of one VM in turn), passing the schedule's retention and the job's full interval and disk
 * concurrency to the backup functions. A VM that fails does not stop the others; the record says why.
 */
export async function executeJobRun(c: JobRunContext): Promise<RunSummary> {
  const { job, recorder, settings } = c;
  const prefs = settings.preferences;
  try {
    const remotes = job.remoteIds.map((id) => settings.remotes.find((r) => r.id === id));
    const known = remotes.filter((r): r is NonNullable<typeof r> => r !== undefined);
    if (known.length < remotes.length) {
      recorder.error(
        new SluiceError(
          'NOT_FOUND',
          `${remotes.length - known.length} of the job's remotes are no longer configured.`,
          { hint: 'Edit the job and pick its remotes again.', context: { job: job.name } },
        ),
      );
    }
    const xapi = await c.session(job.hostId);
    const vms = await resolveJobVms(xapi, job.vms);
    for (const s of vms.skipped) recorder.warn(`Skipped ${s.name}: ${s.reason}.`, c.now(), { vm: s.name });
    for (const uuid of vms.missing) {
      recorder.error(
        new SluiceError('NOT_FOUND', `The VM ${uuid} that the job names is no longer on the pool.`, {
          hint: 'Remove it from the job if it was deleted on purpose.',
          context: { vm: uuid },
        }),
      );
    }
    recorder.plan(
      vms.selected,
      known.map((r) => r.id),
    );
    await recorder.save();

    // A remote that is not there (an unmounted share) fails its part of the run, not the others.
    const usable = new Map<string, string>();
    for (const r of known) {
      try {
        await preflightRemote(r.path, { create: false });
        usable.set(r.id, r.path);
      } catch (err) {
        for (const vm of vms.selected) recorder.vmFailed(vm.uuid, r.id, err, false, c.now());
      }
    }
    const spoolDir = prefs.spoolDir ?? os.tmpdir();
    const spool = await preflightRemote(spoolDir, { purpose: 'spool' });
    const spoolCapBytes = Math.min(prefs.spoolCapBytes, Math.floor(spool.freeBytes / 2));
    // The job's speed limit is for the whole job: shared among the VMs in flight.
    const limit = job.speedLimitBytesPerSec ?? prefs.defaultSpeedLimitBytesPerSec;
    const slots = Math.max(1, Math.min(job.vmConcurrency, vms.selected.length));
    const perVmLimit = limit ? Math.max(1, Math.floor(limit / slots)) : null;

    // VMs in flight share the buffer and spool budget of the preferences, as they share the speed limit.
    const memoryBufferBytes = Math.max(1024 * 1024, Math.floor(prefs.memoryBufferBytes / slots));
    const perVmSpoolCap = Math.floor(spoolCapBytes / slots);
    // Errors are recorded per VM inside, so one failing VM never stops the others.
    await forEachLimited(vms.selected, slots, async (vm) => {
      for (const [remoteId, remoteRoot] of usable) {
        if (c.signal.aborted) return;
        recorder.vmStarted(vm.uuid, remoteId, c.now());
        await recorder.save();
        const opts: BackupRunOptions = {
          runId: recorder.summary.runId,
          jobId: job.id,
          ...(c.schedule ? { scheduleId: c.schedule.id, retention: c.schedule.retention } : {}),
          remoteRoot,
          compression: job.mode === 'full' ? job.compression : 'none',
          memoryBufferBytes,
          spoolDir,
          spoolCapBytes: perVmSpoolCap,
          speedLimitBytesPerSec: perVmLimit,
          ...(job.fullInterval > 0 ? { fullInterval: job.fullInterval } : {}),
          diskConcurrency: job.diskConcurrency,
          ...(c.retry ? { retry: c.retry } : {}),
          signal: c.signal,
          log: c.log,
          onProgress: c.onProgress,
        };
        try {
          const outcome =
            job.mode === 'full'
              ? vmOutcome(vm.name, { mode: 'full', result: await c.backup.full(xapi, vm.ref, opts) })
              : vmOutcome(vm.name, { mode: 'delta', result: await c.backup.delta(xapi, vm.ref, opts) });
          recorder.vmSucceeded(vm.uuid, remoteId, outcome, c.now());
        } catch (err) {
          recorder.vmFailed(vm.uuid, remoteId, err, c.signal.aborted, c.now());
          c.log('error', `${vm.name}: ${(err as Error).message}`, { vm: vm.name });
        }
        await recorder.save(true);
      }
    });
  } catch (err) {
    if (!c.signal.aborted) recorder.error(err);
  }
  return recorder.finish(c.now(), c.signal.aborted);
}
