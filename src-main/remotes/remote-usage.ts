import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { diskSpace } from './folder-remote.js';

export interface RemoteUsage {
  path: string;
  freeBytes: number;
  totalBytes: number;
  repositoryBytes: number;
}

/**
 * What a remote's file system has left and what the files under `storedUnder` (the repository's folder, which
 * the repository names) take on it. Read-only: unlike testRemote it writes nothing, so the Remotes and
 * Dashboard views can ask often.
 */
export async function remoteUsage(root: string, storedUnder: string): Promise<RemoteUsage> {
  return {
    path: root,
    ...(await diskSpace(root)),
    repositoryBytes: await folderBytes(path.join(root, storedUnder)),
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
