import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import type { FullMetadata } from './backup-metadata.js';
import type { BackupPoint } from './repository-reader.js';
import { namedFileKey, parentKey } from './repository-keys.js';

// The files a point's metadata names, as keys on its remote. The reader already refused metadata whose names
// leave the VM folder, so these resolve; they are checked again here because a point can be built elsewhere.

/** `xo-vm-backups/<vmUuid>`: the folder of the point's metadata. */
export function vmKeyOf(point: BackupPoint): string {
  return parentKey(point.metadataKey);
}

export function xvaKeyOf(point: BackupPoint): string {
  const vmKey = vmKeyOf(point);
  return namedFileKey(vmKey, vmKey, (point.metadata as FullMetadata).xva, point.remote.label);
}

/** Each disk's VHD, by the metadata's key for the disk. */
export function vhdKeysOf(point: BackupPoint): Map<string, string> {
  const out = new Map<string, string>();
  if (point.metadata.mode !== 'delta') return out;
  const vmKey = vmKeyOf(point);
  for (const [disk, rel] of Object.entries(point.metadata.vhds))
    out.set(disk, namedFileKey(vmKey, vmKey, rel, point.remote.label));
  return out;
}

/** Keys of every VHD the metadata of these points names. */
export function referencedVhds(points: readonly BackupPoint[]): Set<string> {
  const out = new Set<string>();
  for (const p of points) for (const key of vhdKeysOf(p).values()) out.add(key);
  return out;
}

/** The disk folders of a VM's incremental jobs (`vdis/<jobId>/<vdiUuid>`), as keys, sorted. */
export async function vdiFolderKeys(remote: Remote, vmKey: string): Promise<string[]> {
  const out: string[] = [];
  const vdis = joinKey(vmKey, 'vdis');
  for (const job of await remote.list(vdis)) {
    if (job.kind !== 'folder') continue;
    for (const vdi of await remote.list(joinKey(vdis, job.name)))
      if (vdi.kind === 'folder') out.push(joinKey(vdis, job.name, vdi.name));
  }
  return out.sort();
}
