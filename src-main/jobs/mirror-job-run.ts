import type { RunSummary } from '../../src-shared/contract/runs.js';
import { SluiceError } from '../errors/sluice-error.js';
import { runMirror, type MirrorHooks } from '../mirror/mirror-run.js';
import { openExistingRemote } from '../remotes/remote-registry.js';
import { listBackupPoints } from '../repository/index.js';
import type { Remote } from '../remotes/remote.js';
import { configuredRemotes } from './job-remotes.js';
import type { JobRunContext } from './job-run.js';

/**
 * One run of a mirror job: the VMs it picks among the source's backups, then for each target remote in turn
 * the points it lacks (mirror/mirror-run.ts), with the schedule's retention. No host is involved. Each VM and
 * target gets its entry in the run's record, as a backup's do; one that fails does not stop the others.
 */
export async function executeMirrorJobRun(c: JobRunContext): Promise<RunSummary> {
  const { job, recorder, settings } = c;
  try {
    const sourceRemote = settings.remotes.find((r) => r.id === job.mirrorFrom);
    if (!sourceRemote)
      throw new SluiceError('NOT_FOUND', `The remote the job "${job.name}" mirrors is no longer configured.`, {
        hint: 'Edit the job and pick its source remote again.',
        context: { job: job.name },
      });
    const targets = configuredRemotes(job, settings, recorder);
    const from = await openExistingRemote(sourceRemote.path, { dataDir: c.dataDir });
    const vms = await sourceVms(c, from);
    recorder.plan(
      vms,
      targets.map((r) => r.id),
    );
    await recorder.save();
    const retention = c.schedule ? { ...c.schedule.retention, timeZone: c.schedule.timezone } : undefined;
    for (const target of targets) {
      c.signal.throwIfAborted();
      let to: Remote;
      try {
        to = await openExistingRemote(target.path, { dataDir: c.dataDir, forWriting: c.dataDir !== undefined });
      } catch (err) {
        for (const vm of vms) recorder.vmFailed(vm.uuid, target.id, err, false, c.now());
        continue;
      }
      if (vms.length === 0) continue;
      await runMirror({
        from,
        to,
        vms: vms.map((v) => v.uuid),
        mode: job.mode,
        retention,
        runId: recorder.summary.runId,
        signal: c.signal,
        log: c.log,
        onProgress: c.onProgress,
        memoryBufferBytes: settings.preferences.memoryBufferBytes,
        hooks: recordingHooks(c, target.id),
      });
    }
  } catch (err) {
    if (!c.signal.aborted) recorder.error(err);
  }
  return recorder.finish(c.now(), c.signal.aborted);
}

/** The VMs the job picks among those the source holds points of (in its mode); named VMs it lacks are errors. */
async function sourceVms(c: JobRunContext, from: Remote): Promise<Array<{ uuid: string; name: string }>> {
  const { points, unreadable } = await listBackupPoints(from);
  for (const u of unreadable) c.recorder.warn(`Skipped ${u.path} on the source: ${u.reason}.`, c.now());
  const held = new Map<string, string>();
  for (const p of points) if (p.mode === c.job.mode) held.set(p.vmUuid, p.vmName);
  const sel = c.job.vms;
  if (sel.kind === 'vms') {
    for (const uuid of sel.vmUuids)
      if (!held.has(uuid))
        c.recorder.error(
          new SluiceError('NOT_FOUND', `The source holds no ${c.job.mode} backup of the VM ${uuid} the job names.`, {
            hint: 'Back it up to the source first, or remove it from the job.',
            context: { vm: uuid },
          }),
        );
    return sel.vmUuids.filter((u) => held.has(u)).map((uuid) => ({ uuid, name: held.get(uuid)! }));
  }
  const excluded = new Set(sel.kind === 'pool' ? sel.excludeVmUuids : []);
  return [...held].filter(([uuid]) => !excluded.has(uuid)).map(([uuid, name]) => ({ uuid, name }));
}

function recordingHooks(c: JobRunContext, remoteId: string): MirrorHooks {
  const { recorder } = c;
  return {
    vmStarted: async (vm) => {
      recorder.vmStarted(vm.uuid, remoteId, c.now());
      await recorder.save();
    },
    vmDone: async (vm, r) => {
      recorder.vmSucceeded(
        vm.uuid,
        remoteId,
        {
          pointId: r.newestPointId ?? '',
          bytes: r.bytes,
          attempts: 1,
          durationMs: r.durationMs,
          disks: [],
        },
        c.now(),
      );
      c.log(
        'info',
        r.copied.length
          ? `${vm.name}: ${r.copied.length} point(s) copied.`
          : `${vm.name}: the target already holds every point.`,
        { vm: vm.name },
      );
      await recorder.save(true);
    },
    vmFailed: async (vm, err) => {
      recorder.vmFailed(vm.uuid, remoteId, err, c.signal.aborted, c.now());
      await recorder.save(true);
    },
  };
}
