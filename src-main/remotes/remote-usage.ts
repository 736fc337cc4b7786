import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { FolderRemote } from './folder-remote-store.js';
import { mediumOf, type Remote } from './remote.js';
import { joinKey } from './remote-key.js';

export interface RemoteUsage {
  path: string;
  /** null where the medium cannot say (an S3 bucket has no capacity a client can ask for). */
  freeBytes: number | null;
  totalBytes: number | null;
  repositoryBytes: number;
}

/**
 * What a remote has left and what the files under `storedUnder` (the repository's folder, which the repository
 * names) take on it. Read-only: unlike the speed test it writes nothing, so the Remotes and Dashboard views can
 * ask often.
 */
export async function remoteUsage(remote: Remote, storedUnder: string): Promise<RemoteUsage> {
  const space = await remote.freeSpace();
  const folder = mediumOf(remote);
  return {
    path: remote.label,
    freeBytes: space?.freeBytes ?? null,
    totalBytes: space?.totalBytes ?? null,
    repositoryBytes:
      folder instanceof FolderRemote && !remote.encrypted
        ? await folderBytes(path.join(folder.root, storedUnder))
        : await remoteTreeBytes(remote, storedUnder),
  };
}

/** Allocated size would flatter sparse files; apparent size is what a copy of the repository needs. */
async function folderBytes(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw describeFsError(err, dir, 'read');
  });
  let total = 0;
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += (await fs.stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** The same through the Remote interface (an object store): its listings, and each object's size. */
async function remoteTreeBytes(remote: Remote, prefix: string): Promise<number> {
  let total = 0;
  for (const e of await remote.list(prefix)) {
    const key = joinKey(prefix, e.name);
    if (e.kind === 'folder') total += await remoteTreeBytes(remote, key);
    else if (e.kind === 'file') total += (await remote.stat(key))?.size ?? 0;
  }
  return total;
}
