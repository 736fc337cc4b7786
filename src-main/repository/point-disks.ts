import { SluiceError } from '../errors/sluice-error.js';
import type { DeltaMetadata } from './backup-metadata.js';
import { vhdKeysOf } from './point-file-keys.js';
import { baseName, parentKey } from './repository-keys.js';
import { openVhd } from './remote-vhd-files.js';
import type { BackupPoint } from './repository-reader.js';
import { resolveChain as resolveFolderChain, scanVhdFolder, type VhdFolderScan } from './vhd-folder-scan.js';

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
  /** The files as the remote shows them (local paths on a folder remote), the full VHD first, this point's last. */
  chain: string[];
  /** The same files, as keys of the point's remote. */
  chainKeys: string[];
}

/** The disks of a delta point, in position order; each chain checked to exist (not yet read). */
export async function deltaPointDisks(point: BackupPoint): Promise<DeltaPointDisk[]> {
  const meta = point.metadata as DeltaMetadata;
  if (meta.mode !== 'delta') throw new Error('deltaPointDisks: not a delta point');
  const keys = vhdKeysOf(point);
  const out: DeltaPointDisk[] = [];
  for (const key of Object.keys(meta.vhds)) {
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
      ...(await resolveChain(point, keys.get(key)!)),
    });
  }
  return out.sort((a, b) => Number(a.position) - Number(b.position) || a.position.localeCompare(b.position));
}

/**
 * From a point's VHD (its key) back to the full VHD, by the parent names the scan read; a chain never leaves
 * its disk folder (a locator naming anything else still names a sibling), and links are never followed.
 * A missing parent is named; a damaged file throws its own format error, so callers see what is wrong with it.
 */
export async function resolveChain(
  point: BackupPoint,
  newestKey: string,
): Promise<{ chain: string[]; chainKeys: string[] }> {
  const scan = await scanVhdFolder(point.remote, parentKey(newestKey));
  const found = resolveFolderChain(scan, baseName(newestKey));
  if (!('problem' in found)) return { chain: found.paths, chainKeys: found.keys };
  const { problem } = found;
  const context = { vm: point.vmName, point: point.id, file: problem.file };
  if (problem.kind === 'missing-parent') {
    const own = point.remote.displayPath(newestKey);
    throw new SluiceError(
      'REMOTE_ERROR',
      problem.missing === own
        ? `The backup ${point.vmName} ${point.id} is damaged: its disk file ${own} is missing.`
        : `The backup ${point.vmName} ${point.id} is damaged: ${problem.message} from the remote.`,
      { hint: BROKEN_HINT, context, damage: { kind: 'missing-parent', file: problem.file } },
    );
  }
  if (problem.kind === 'damaged') await rethrowReadError(point, scan, problem.file);
  throw new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${problem.message}.`, {
    hint: BROKEN_HINT,
    context,
    damage: { kind: 'metadata', file: problem.file },
  });
}

const BROKEN_HINT =
  'The incremental chain is broken, so this point and the later ones of this chain cannot be restored. Restore an older full point (or the newest point of a newer chain), and run a full backup.';

/** The damaged file's own format error (its kind and offset), read again; a link says it is one. */
async function rethrowReadError(point: BackupPoint, scan: VhdFolderScan, shown: string): Promise<void> {
  const vhd = [...scan.vhds.values()].find((v) => v.path === shown);
  if (!vhd) return;
  const entry = (await point.remote.list(scan.folderKey)).find((e) => e.name === vhd.name);
  if (entry?.kind === 'file') {
    const reader = await openVhd(point.remote, vhd.key);
    await reader.close();
  }
  throw new SluiceError(
    'REMOTE_ERROR',
    `The backup ${point.vmName} ${point.id} is damaged: ${shown}: ${vhd.unreadable}.`,
    {
      hint: BROKEN_HINT,
      context: { vm: point.vmName, point: point.id, file: shown },
      damage: { kind: 'path', file: shown },
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
