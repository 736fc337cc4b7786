import { diskVbdsOf } from '../xapi/vm-disk-vbds.js';
import type { XapiSession } from '../xapi/xapi-session.js';

// Xen Orchestra marks the snapshot an incremental job keeps, and each of its disks, with these other_config
// keys, and finds the next run's base by them: the newest snapshot of the job and VM marked as exported.
// Sluice marks its own the same way, so that XO running the same job continues Sluice's chain, and takes a
// snapshot XO marked for the job as the base when the remote's newest point records it (facts read in
// @xen-orchestra/backups' _otherConfig and _AbstractXapi, not its code).

export const XO_JOB = 'xo:backup:job';
export const XO_SCHEDULE = 'xo:backup:schedule';
export const XO_VM = 'xo:backup:vm';
export const XO_DATETIME = 'xo:backup:datetime';
export const XO_EXPORTED = 'xo:backup:exported';
export const XO_DELTA_CHAIN_LENGTH = 'xo:backup:deltaChainLength';

/** XO's date in other_config: UTC, `20261204T18:35:00Z`. */
export function xoDatetime(when: Date): string {
  const iso = when.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`;
}

/** A snapshot marked by XO (or by Sluice as XO marks) for this job and VM. */
export function isXoMarkedFor(oc: Record<string, string>, jobId: string, vmUuid: string): boolean {
  return oc[XO_JOB] === jobId && oc[XO_VM] === vmUuid;
}

/** Sets the keys on the snapshot and its disks; a key the snapshot inherited from its VM is replaced. */
async function setMarkers(xapi: XapiSession, snapRef: string, markers: Record<string, string>): Promise<void> {
  const disks = (await diskVbdsOf(xapi, snapRef)).map(({ vbd }): ['VDI', string] => ['VDI', vbd.VDI]);
  for (const [cls, ref] of [['VM', snapRef] as const, ...disks]) {
    for (const [key, value] of Object.entries(markers)) {
      await xapi.call(`${cls}.remove_from_other_config`, ref, key);
      await xapi.call(`${cls}.add_to_other_config`, ref, key, value);
    }
  }
}

/** Right after the snapshot, as XO marks its own: whose job, schedule and VM it is, and when it was taken. */
export async function markSnapshotAsXo(
  xapi: XapiSession,
  snapRef: string,
  m: { jobId: string; scheduleId: string; vmUuid: string; when: Date },
): Promise<void> {
  await setMarkers(xapi, snapRef, {
    [XO_JOB]: m.jobId,
    [XO_SCHEDULE]: m.scheduleId,
    [XO_VM]: m.vmUuid,
    [XO_DATETIME]: xoDatetime(m.when),
  });
}

/** Once its point is committed: exported, and how many deltas its chain holds since the last full. */
export async function markSnapshotExported(xapi: XapiSession, snapRef: string, chainLength: number): Promise<void> {
  await setMarkers(xapi, snapRef, { [XO_EXPORTED]: 'true', [XO_DELTA_CHAIN_LENGTH]: String(chainLength) });
}
