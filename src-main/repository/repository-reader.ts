import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { backupMetadataSchema, type BackupMetadata } from './backup-metadata.js';
import { BACKUPS_DIR, isTemporaryName } from './repository-layout.js';

export interface BackupPoint {
  vmUuid: string;
  vmName: string;
  /** The `<ts>` of the files. */
  id: string;
  timestamp: Date;
  mode: BackupMetadata['mode'];
  jobId: string;
  size: number | undefined;
  metadataPath: string;
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
  root: string,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const base = path.join(root, BACKUPS_DIR);
  const vmDirs = await fs.readdir(base, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw describeFsError(err, base, 'read');
  });
  const points: BackupPoint[] = [];
  const unreadable: UnreadableMetadata[] = [];
  for (const d of vmDirs) {
    if (!d.isDirectory() || !UUID.test(d.name)) continue;
    const one = await readVmFolder(path.join(base, d.name), d.name);
    points.push(...one.points);
    unreadable.push(...one.unreadable);
  }
  points.sort((a, b) => a.vmUuid.localeCompare(b.vmUuid) || a.timestamp.getTime() - b.timestamp.getTime());
  return { points, unreadable };
}

/** The points of one VM folder, oldest first. */
export async function listVmPoints(
  root: string,
  vmUuid: string,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const r = await readVmFolder(path.join(root, BACKUPS_DIR, vmUuid), vmUuid);
  r.points.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  return r;
}

async function readVmFolder(
  dir: string,
  vmUuid: string,
): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
  const points: BackupPoint[] = [];
  const unreadable: UnreadableMetadata[] = [];
  const names = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw describeFsError(err, dir, 'read');
  });
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || isTemporaryName(name) || name === 'cache.json') continue;
    const metadataPath = path.join(dir, name);
    try {
      const metadata = backupMetadataSchema.parse(JSON.parse(await fs.readFile(metadataPath, 'utf8')));
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
        metadata,
      });
    } catch (err) {
      unreadable.push({ path: metadataPath, reason: err instanceof Error ? err.message.slice(0, 300) : String(err) });
    }
  }
  return { points, unreadable };
}
