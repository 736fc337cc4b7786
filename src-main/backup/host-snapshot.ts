import type { XapiSession } from '../xapi/xapi-session.js';
import { NULL_REF, vbdRecordSchema, vmRecordSchema } from '../xapi/xapi-records.js';

/** other_config key that marks a snapshot as Sluice's own, with the run that made it. */
export const BACKUP_RUN_KEY = 'sluice:backup-run';
/** other_config key on the snapshot kept as the base of the next incremental backup. */
export const DELTA_BASE_KEY = 'sluice:delta-base';

export async function takeBackupSnapshot(
  xapi: XapiSession,
  vmRef: string,
  vmName: string,
  runId: string,
  when: Date,
): Promise<string> {
  const snapRef = await xapi.call<string>(
    'VM.snapshot',
    vmRef,
    `[Sluice] ${vmName} ${when.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
  );
  await xapi.call('VM.add_to_other_config', snapRef, BACKUP_RUN_KEY, runId);
  return snapRef;
}

/**
 * VM.destroy removes the snapshot's VBDs and VIFs but not its disks: a backup tool destroys those itself, or
 * every backup would leak a copy of every disk on the SR.
 */
export async function destroySnapshotWithDisks(xapi: XapiSession, snapRef: string): Promise<void> {
  const vdis: string[] = [];
  const vbdRefs = await xapi.call<string[]>('VM.get_VBDs', snapRef);
  for (const vbdRef of vbdRefs) {
    const vbd = vbdRecordSchema.parse(await xapi.call('VBD.get_record', vbdRef));
    if (vbd.type === 'Disk' && vbd.VDI !== NULL_REF) vdis.push(vbd.VDI);
  }
  await xapi.call('VM.destroy', snapRef);
  for (const vdi of vdis) {
    await xapi.call('VDI.destroy', vdi).catch(() => {
      // Already gone (destroyed by hand, or shared with another snapshot chain): nothing to leak.
    });
  }
}

/**
 * Snapshots a Sluice run made and never cleaned (the process was killed): everything marked with a run
 * other than the live ones, except the one kept as a delta base.
 */
export async function findLeftoverSnapshots(
  xapi: XapiSession,
  vmRef: string,
  liveRuns: ReadonlySet<string>,
): Promise<string[]> {
  return findSnapshots(xapi, vmRef, (oc) => {
    const run = oc[BACKUP_RUN_KEY];
    return run !== undefined && !liveRuns.has(run) && oc[DELTA_BASE_KEY] === undefined;
  });
}

/** The snapshot an incremental job keeps on the host as its next base, if any. */
export async function findDeltaBase(xapi: XapiSession, vmRef: string, jobId: string): Promise<string | undefined> {
  return (await findSnapshots(xapi, vmRef, (oc) => oc[DELTA_BASE_KEY] === jobId)).at(-1);
}

async function findSnapshots(
  xapi: XapiSession,
  vmRef: string,
  match: (otherConfig: Record<string, string>) => boolean,
): Promise<string[]> {
  const out: string[] = [];
  for (const ref of await xapi.call<string[]>('VM.get_snapshots', vmRef)) {
    const rec = vmRecordSchema.safeParse(await xapi.call('VM.get_record', ref));
    if (rec.success && match(rec.data.other_config)) out.push(ref);
  }
  return out;
}
