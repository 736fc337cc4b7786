import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { DiskType } from '../formats/vhd/vhd-structures.js';
import type { DeltaMetadata } from './backup-metadata.js';
import type { BackupPoint } from './repository-reader.js';

// The disks of an incremental point, as its metadata records them: the snapshot VDI's record, the VBD that
// plugged it (position), and the VHD chain on the remote, found by following each file's parent name back to
// the full VHD, as Xen Orchestra does.

type Rec = Record<string, unknown>;

export interface DeltaPointDisk {
  /** The key of the disk in the metadata: the snapshot VDI's ref on the source pool. */
  key: string;
  /** The live disk's uuid (the folder name under vdis/<jobId>/). */
  uuid: string;
  name: string;
  /** The VBD's userdevice ("0", "1"…): the disk's position in the VM. */
  position: string;
  virtualSize: number;
  vdi: Rec;
  vbd: Rec | undefined;
  /** Absolute paths, the full VHD first, this point's file last. */
  chain: string[];
}

const MAX_CHAIN = 10_000;

export function vmDirOf(point: BackupPoint): string {
  return path.dirname(point.metadataPath);
}

/** The disks of a delta point, in position order; each chain checked to exist (not yet read). */
export async function deltaPointDisks(point: BackupPoint): Promise<DeltaPointDisk[]> {
  const meta = point.metadata as DeltaMetadata;
  if (meta.mode !== 'delta') throw new Error('deltaPointDisks: not a delta point');
  const vmDir = vmDirOf(point);
  const out: DeltaPointDisk[] = [];
  for (const [key, rel] of Object.entries(meta.vhds)) {
    const vdi = meta.vdis[key] ?? {};
    const vbd = Object.values(meta.vbds).find((b) => b['VDI'] === key);
    out.push({
      key,
      uuid: typeof vdi['$snapshot_of$uuid'] === 'string' ? vdi['$snapshot_of$uuid'] : String(vdi['uuid'] ?? key),
      name: String(vdi['name_label'] ?? key),
      position: String(vbd?.['userdevice'] ?? ''),
      virtualSize: Number(vdi['virtual_size'] ?? 0),
      vdi,
      vbd,
      chain: await resolveChain(point, path.join(vmDir, rel)),
    });
  }
  return out.sort((a, b) => Number(a.position) - Number(b.position) || a.position.localeCompare(b.position));
}

/** From a point's VHD back to the full VHD, by parent names; a missing or wrong parent is named. */
export async function resolveChain(point: BackupPoint, newest: string): Promise<string[]> {
  const chain: string[] = [];
  let current = newest;
  for (let i = 0; i < MAX_CHAIN; i++) {
    if (
      !(await fs.stat(current).then(
        () => true,
        () => false,
      ))
    ) {
      throw new SluiceError(
        'REMOTE_ERROR',
        i === 0
          ? `The backup ${point.vmName} ${point.id} is damaged: its disk file ${current} is missing.`
          : `The backup ${point.vmName} ${point.id} is damaged: ${chain[0]} needs its parent ${current}, which is missing from the remote.`,
        {
          hint: 'The incremental chain is broken, so this point and the later ones of this chain cannot be restored. Restore an older full point (or the newest point of a newer chain), and run a full backup.',
          context: { vm: point.vmName, point: point.id },
          damage: { kind: 'missing-parent', file: current },
        },
      );
    }
    chain.unshift(current);
    const reader = await VhdFileReader.open(current);
    const { diskType } = reader.footer;
    const parentName = reader.header.parentName;
    await reader.close();
    if (diskType !== DiskType.Differencing) return chain;
    current = path.resolve(path.dirname(current), parentName);
  }
  throw new SluiceError(
    'REMOTE_ERROR',
    `The backup ${point.vmName} ${point.id} has a VHD chain longer than ${MAX_CHAIN} files (a loop?).`,
    {
      context: { vm: point.vmName, point: point.id, file: newest },
    },
  );
}

/** Picks one disk of a point by its live VDI uuid or its position (userdevice). */
export function pickDisk<T extends { uuid: string; position: string; name: string }>(
  disks: T[],
  wanted: string,
  point: BackupPoint,
): T {
  const found = disks.find((d) => d.uuid === wanted.toLowerCase()) ?? disks.find((d) => d.position === wanted);
  if (!found) {
    throw new SluiceError('NOT_FOUND', `The backup ${point.vmName} ${point.id} has no disk "${wanted}".`, {
      hint: `Give a disk uuid or position: ${disks.map((d) => `${d.position} (${d.uuid}, "${d.name}")`).join(', ')}.`,
      context: { vm: point.vmName, point: point.id },
    });
  }
  return found;
}
