import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { backupMetadataSchema, type BackupMetadata } from './backup-metadata.js';
import { BACKUPS_DIR, isTemporaryName } from './repository-layout.js';
import { namedFileKey, remoteOf, vmFolderKey, type RepositoryRoot } from './repository-keys.js';

export interface BackupPoint {
  vmUuid: string;
  vmName: string;
  /** The `<ts>` of the files. */
  id: string;
  timestamp: Date;
  mode: BackupMetadata['mode'];
  jobId: string;
  size: number | undefined;
  /** For messages: where the metadata is, as the admin names it. */
  metadataPath: string;
  /** The metadata's key on `remote`; every other file of the point is named relative to its folder. */
  metadataKey: string;
  remote: Remote;
  metadata: BackupMetadata;
}

export interface UnreadableMetadata {
  path: string;
  reason: string;
}

/**
 * Unreadable metadata might name any file of its VM folder, so while one exists nothing there is deleted or
 * merged as unreferenced: this says why, for logs and for `check`. Undefined when every metadata file reads.
 */
export function heldByUnreadable(unreadable: readonly UnreadableMetadata[]): string | undefined {
  if (unreadable.length === 0) return undefined;
  const names = unreadable.map((u) => u.path).join(', ');
  return `kept: the metadata ${names} cannot be read and may use it. Repair or restore that file from a copy (or remove it if you know it is not needed), then run \`npx sluice check --repair\``;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** VM folders are named by the VM's uuid; anything else under xo-vm-backups/ is not a VM's backups. */
export function isVmFolderName(name: string): boolean {
  return UUID.test(name);
}

/** Every backup point in a repository (committed metadata only), oldest first per VM. */
export async function listBackupPoints(
  root: RepositoryRoot,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const remote = remoteOf(root);
  const points: BackupPoint[] = [];
  const unreadable: UnreadableMetadata[] = [];
  for (const d of await remote.list(BACKUPS_DIR)) {
    if (d.kind !== 'folder' || !UUID.test(d.name)) continue;
    const one = await readVmFolder(remote, d.name);
    points.push(...one.points);
    unreadable.push(...one.unreadable);
  }
  points.sort((a, b) => a.vmUuid.localeCompare(b.vmUuid) || a.timestamp.getTime() - b.timestamp.getTime());
  return { points, unreadable };
}

/** The points of one VM folder, oldest first. */
export async function listVmPoints(
  root: RepositoryRoot,
  vmUuid: string,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const r = await readVmFolder(remoteOf(root), vmUuid);
  r.points.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  return r;
}

export const LINK_REASON =
  'it is a link, and Sluice never follows links inside a repository (one could lead anywhere); replace it with the file itself';

/**
 * Metadata is a few KiB (XO's hold the VM's records, tens of KiB with many disks): a file far larger is not
 * one, and reading it whole would cost the memory of every run that lists the folder.
 */
export const METADATA_MAX_BYTES = 8 * 1024 * 1024;

async function readVmFolder(
  remote: Remote,
  vmUuid: string,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const points: BackupPoint[] = [];
  const unreadable: UnreadableMetadata[] = [];
  const vmKey = vmFolderKey(vmUuid);
  const entries = (await remote.list(vmKey)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { name, kind } of entries) {
    if (kind === 'folder' || !name.endsWith('.json') || isTemporaryName(name) || name === 'cache.json') continue;
    const metadataKey = joinKey(vmKey, name);
    const metadataPath = remote.displayPath(metadataKey);
    if (kind === 'link') {
      unreadable.push({ path: metadataPath, reason: LINK_REASON });
      continue;
    }
    try {
      const raw = await remote.read(metadataKey, { maxBytes: METADATA_MAX_BYTES });
      const metadata = backupMetadataSchema.parse(JSON.parse(raw.toString('utf8')));
      // Names that lead out of the VM folder make the point unusable, not just one of its files: it is kept
      // (and holds the folder) like any other unreadable metadata, for the admin to look at.
      for (const named of metadata.mode === 'full' ? [metadata.xva] : Object.values(metadata.vhds))
        namedFileKey(vmKey, vmKey, named, remote.label);
      const vm = metadata.vm as { name_label?: unknown };
      points.push({
        vmUuid,
        vmName: typeof vm.name_label === 'string' ? vm.name_label : vmUuid,
        id: name.slice(0, -'.json'.length),
        timestamp: new Date(metadata.timestamp),
        mode: metadata.mode,
        jobId: metadata.jobId,
        size: metadata.size,
        metadataPath,
        metadataKey,
        remote,
        metadata,
      });
    } catch (err) {
      unreadable.push({ path: metadataPath, reason: err instanceof Error ? err.message.slice(0, 300) : String(err) });
    }
  }
  return { points, unreadable };
}
