import { vhdKeysOf } from './point-file-keys.js';
import { storedVhdBytes } from './remote-vhd-files.js';
import type { BackupPoint } from './repository-reader.js';

/**
 * What an incremental point holds on the remote now: the length of each VHD its metadata names (a VHD
 * directory counts as the VHD file it stands for). The size the
 * metadata recorded is what the backup wrote; a merge that folded a deleted point into this one grew its VHDs
 * (a base that absorbed a merge holds the whole disk), and the metadata is never rewritten for it. A full
 * point keeps its recorded size; so does a point with a VHD missing (its chain is then shown as broken).
 */
export async function pointSizes(points: readonly BackupPoint[]): Promise<Map<BackupPoint, number | undefined>> {
  const out = new Map<BackupPoint, number | undefined>();
  for (const p of points) {
    const keys = [...vhdKeysOf(p).values()];
    if (keys.length === 0) {
      out.set(p, p.size);
      continue;
    }
    const sizes = await Promise.all(keys.map((k) => storedVhdBytes(p.remote, k)));
    out.set(p, sizes.every((s) => s !== undefined) ? sizes.reduce<number>((n, s) => n + s!, 0) : p.size);
  }
  return out;
}
