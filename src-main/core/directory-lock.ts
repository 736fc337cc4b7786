import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { pidAlive } from './pid-alive.js';

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  purpose: string;
}

export interface DirectoryLockOptions {
  /** Who takes the lock, as a later taker's error names the holder (`job "nightly"`). */
  purpose: string;
  /** What is locked, as the conflict message opens (`This VM's backup folder` → "… is in use by …"). */
  subject?: string;
  /** What the admin can do while it is held; the conflict error's context. */
  hint?: string;
  context?: Record<string, string>;
}

/** Frees the lock (removes its folder). */
export type ReleaseLock = () => Promise<void>;

/**
 * A lock that is a folder (`mkdir` is atomic on every file system, local or shared) with its holder in
 * `owner.json`: one holder at a time. A lock left by a process that died on this machine is taken over; one held
 * by another machine is respected, and one without an owner file is stale only after a minute (its taker may be
 * between the mkdir and the write).
 */
export async function lockDirectory(lockDir: string, opts: DirectoryLockOptions): Promise<ReleaseLock> {
  const ownerFile = path.join(lockDir, 'owner.json');
  const me: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: new Date().toISOString(),
    purpose: opts.purpose,
  };
  await fs.mkdir(path.dirname(lockDir), { recursive: true }).catch((err) => {
    throw describeFsError(err, path.dirname(lockDir), 'create the folder');
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.mkdir(lockDir);
      await fs.writeFile(ownerFile, JSON.stringify(me));
      return async () => {
        await fs.rm(lockDir, { recursive: true, force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw describeFsError(err, lockDir, 'create the lock');
      const owner = await fs
        .readFile(ownerFile, 'utf8')
        .then((t) => JSON.parse(t) as LockOwner)
        .catch(() => undefined);
      const stale =
        owner === undefined ? await olderThan(lockDir, 60_000) : owner.hostname === me.hostname && !pidAlive(owner.pid);
      if (stale) {
        await fs.rm(lockDir, { recursive: true, force: true }).catch((e) => {
          throw describeFsError(e, lockDir, 'remove the stale lock');
        });
        continue;
      }
      throw new SluiceError(
        'CONFLICT',
        `${opts.subject ?? `The lock ${lockDir}`} is in use${owner ? ` by ${owner.purpose} (process ${owner.pid} on ${owner.hostname}, since ${owner.startedAt})` : ''}.`,
        {
          hint: opts.hint ?? `Wait for that process to finish. If it is not running, remove the folder ${lockDir}`,
          context: opts.context ?? { lock: lockDir },
        },
      );
    }
  }
  throw new SluiceError('CONFLICT', `Could not take the lock ${lockDir}.`, { hint: 'Try again.' });
}

async function olderThan(p: string, ms: number): Promise<boolean> {
  const st = await fs.stat(p).catch(() => undefined);
  return st ? Date.now() - st.mtimeMs > ms : true;
}
