import { removeDeadRunLeftovers } from '../xapi/dead-run-leftovers.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { BackupRunOptions } from './backup-options.js';
import { NOBAK_MARK } from '../xapi/live-inventory.js';
import { isXoMarkedFor } from './xo-snapshot-markers.js';
import { vdiRecordSchema, vmRecordSchema } from '../xapi/xapi-records.js';
import { diskVbdsOf } from '../xapi/vm-disk-vbds.js';

/** other_config key that marks a snapshot as Sluice's own, with the run that made it. */
export const BACKUP_RUN_KEY = 'sluice:backup-run';
/** other_config key on the snapshot kept as the base of the next incremental backup. */
export const DELTA_BASE_KEY = 'sluice:delta-base';
/**
 * other_config key, with the job, on a delta run's snapshot from the moment it is taken: it becomes that job's
 * base once a point's metadata records its uuid, and is removed otherwise. Set before the metadata is written,
 * so a kill at any step leaves a snapshot whose fate the remote decides.
 */
export const PENDING_BASE_KEY = 'sluice:pending-base';
/** Every snapshot Sluice takes is named so; one a kill left before it was marked is known by this alone. */
const SNAPSHOT_NAME_PREFIX = '[Sluice] ';

export async function takeBackupSnapshot(
  xapi: XapiSession,
  vmRef: string,
  vmName: string,
  runId: string,
  when: Date,
  pendingBaseOf?: string,
): Promise<string> {
  const snapRef = await xapi.call<string>(
    'VM.snapshot',
    vmRef,
    `${SNAPSHOT_NAME_PREFIX}${vmName} ${when.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
  );
  await xapi.call('VM.add_to_other_config', snapRef, BACKUP_RUN_KEY, runId);
  if (pendingBaseOf) await xapi.call('VM.add_to_other_config', snapRef, PENDING_BASE_KEY, pendingBaseOf);
  return snapRef;
}

/**
 * VM.destroy removes the snapshot's VBDs and VIFs but not its disks: a backup tool destroys those itself, or
 * every backup would leak a copy of every disk on the SR. The disks go first: a kill halfway then leaves the
 * snapshot record, still marked as Sluice's, for the next run to finish; the other order would leave disks
 * nothing names.
 */
export async function destroySnapshotWithDisks(xapi: XapiSession, snapRef: string): Promise<void> {
  for (const { vbd } of await diskVbdsOf(xapi, snapRef)) {
    await xapi.call('VDI.destroy', vbd.VDI).catch(() => {
      // Already gone (destroyed by hand, or shared with another snapshot chain): nothing to leak.
    });
  }
  await xapi.call('VM.destroy', snapRef);
}

/**
 * A full backup exports the whole snapshot, so the disks left out by name (`[NOBAK]`, as Xen Orchestra does)
 * are destroyed on the snapshot before the export: the XVA then holds the others only. The snapshot is Sluice's
 * own, so a kill halfway leaves a marked snapshot that the next run removes with what is left of its disks.
 */
export async function leaveOutNamedDisks(
  xapi: XapiSession,
  snapRef: string,
  log: BackupRunOptions['log'],
  ctx: Record<string, string>,
): Promise<void> {
  for (const { vbd } of await diskVbdsOf(xapi, snapRef)) {
    const vdi = vdiRecordSchema.parse(await xapi.call('VDI.get_record', vbd.VDI));
    if (!vdi.name_label.includes(NOBAK_MARK)) continue;
    log('info', `Skipping disk "${vdi.name_label}": its name contains ${NOBAK_MARK}.`, ctx);
    await xapi.call('VDI.destroy', vbd.VDI);
  }
}

interface SnapshotInfo {
  ref: string;
  uuid: string;
  name: string;
  otherConfig: Record<string, string>;
}

/** The job whose base a snapshot is or may become, if any. */
function deltaJobOf(oc: Record<string, string>): string | undefined {
  return oc[DELTA_BASE_KEY] ?? oc[PENDING_BASE_KEY];
}

function isLeftover(s: SnapshotInfo, liveRuns: ReadonlySet<string>): boolean {
  if (deltaJobOf(s.otherConfig) !== undefined) return false;
  const run = s.otherConfig[BACKUP_RUN_KEY];
  if (run !== undefined) return !liveRuns.has(run);
  return s.name.startsWith(SNAPSHOT_NAME_PREFIX);
}

/**
 * Snapshots a Sluice run made and never cleaned (the process was killed): everything marked with a run
 * other than the live ones, and named as Sluice names them but never marked, except those that are or may
 * become a delta job's base (that job's next run settles them against its remote).
 */
export async function findLeftoverSnapshots(
  xapi: XapiSession,
  vmRef: string,
  liveRuns: ReadonlySet<string>,
): Promise<string[]> {
  return (await sluiceSnapshots(xapi, vmRef)).filter((s) => isLeftover(s, liveRuns)).map((s) => s.ref);
}

export interface DeltaSettleOptions {
  jobId: string;
  /** The snapshot uuid the job's newest committed point records; undefined when the job has no point. */
  recordedUuid: string | undefined;
  liveRuns: ReadonlySet<string>;
  /** Some metadata of the folder is unreadable: a snapshot it might record is kept, not destroyed. */
  keepUnconfirmed: boolean;
  /**
   * The VM's uuid: a snapshot Xen Orchestra marked for this job and VM (`xo:backup:job`, `xo:backup:vm`) is the
   * base when the newest point records it, and is never destroyed here (XO's own retention keeps or drops it).
   */
  vmUuid?: string;
}

/**
 * Makes the host agree with the remote, whatever step a kill interrupted: the job's snapshot that its newest
 * committed point records is (made) the base; every other snapshot of the job, and every leftover of a dead
 * run, is destroyed with its disks. Returns the base, if there is one. Every step is idempotent, and the tags
 * are only a cache of what the metadata says, so running this again after any kill finishes the job.
 */
export async function settleDeltaSnapshots(
  xapi: XapiSession,
  vmRef: string,
  opts: DeltaSettleOptions,
): Promise<string | undefined> {
  let base: string | undefined;
  for (const s of await sluiceSnapshots(xapi, vmRef, opts)) {
    if (s.xoOnly) {
      if (opts.recordedUuid !== undefined && s.uuid === opts.recordedUuid) base = s.ref;
      continue;
    }
    const oc = s.otherConfig;
    const job = deltaJobOf(oc);
    if (job === undefined) {
      if (isLeftover(s, opts.liveRuns)) await destroySnapshotWithDisks(xapi, s.ref);
      continue;
    }
    if (job !== opts.jobId) continue;
    if (opts.recordedUuid !== undefined && s.uuid === opts.recordedUuid) {
      // Tag first, untag after: a kill in between leaves a snapshot that is still the job's.
      if (oc[DELTA_BASE_KEY] === undefined) await xapi.call('VM.add_to_other_config', s.ref, DELTA_BASE_KEY, job);
      if (oc[PENDING_BASE_KEY] !== undefined) await xapi.call('VM.remove_from_other_config', s.ref, PENDING_BASE_KEY);
      if (oc[BACKUP_RUN_KEY] !== undefined) await xapi.call('VM.remove_from_other_config', s.ref, BACKUP_RUN_KEY);
      base = s.ref;
      continue;
    }
    const run = oc[BACKUP_RUN_KEY];
    if (run !== undefined && opts.liveRuns.has(run)) continue;
    if (opts.keepUnconfirmed) continue;
    await destroySnapshotWithDisks(xapi, s.ref);
  }
  return base;
}

/** Sluice's snapshots of the VM, and (`xoOnly`) the ones Xen Orchestra marked for this job and VM. */
async function sluiceSnapshots(
  xapi: XapiSession,
  vmRef: string,
  job?: Pick<DeltaSettleOptions, 'jobId' | 'vmUuid'>,
): Promise<Array<SnapshotInfo & { xoOnly: boolean }>> {
  const out: Array<SnapshotInfo & { xoOnly: boolean }> = [];
  for (const ref of await xapi.call<string[]>('VM.get_snapshots', vmRef)) {
    const rec = vmRecordSchema.safeParse(await xapi.call('VM.get_record', ref));
    if (!rec.success) continue;
    const oc = rec.data.other_config;
    const info = { ref, uuid: rec.data.uuid, otherConfig: oc, name: rec.data.name_label };
    const marked = oc[BACKUP_RUN_KEY] !== undefined || deltaJobOf(oc) !== undefined;
    if (marked || rec.data.name_label.startsWith(SNAPSHOT_NAME_PREFIX)) out.push({ ...info, xoOnly: false });
    else if (job?.vmUuid !== undefined && isXoMarkedFor(oc, job.jobId, job.vmUuid)) out.push({ ...info, xoOnly: true });
  }
  return out;
}

/** Before a full backup: the snapshots and host tasks earlier runs that did not finish left on the host. */
export async function removeHostLeftovers(
  xapi: XapiSession,
  vmRef: string,
  opts: Pick<BackupRunOptions, 'log' | 'runId'>,
  ctx: Record<string, string>,
): Promise<void> {
  for (const ref of await findLeftoverSnapshots(xapi, vmRef, new Set([opts.runId]))) {
    opts.log('info', 'Destroying a snapshot left on the host by an earlier run that did not finish.', ctx);
    await destroySnapshotWithDisks(xapi, ref);
  }
  await removeDeadRunLeftovers(xapi, opts.log, ctx);
}
