import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '../core/pid-alive.js';
import { SluiceError } from '../errors/sluice-error.js';
import { describeFsError } from '../errors/fs-errors.js';

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  purpose: string;
}

/**
 * The VM folder's lock, as XO keeps it (`<vmUuid>.lock/`): one writer per VM folder at a time. A lock left by
 * a process that died on this machine is taken over; one held by another machine is respected.
 */
export async function lockVmFolder(lockDir: string, purpose: string): Promise<() => Promise<void>> {
  const ownerFile = path.join(lockDir, 'owner.json');
  const me: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), purpose };
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
        `This VM's backup folder is in use${owner ? ` by ${owner.purpose} (process ${owner.pid} on ${owner.hostname}, since ${owner.startedAt})` : ''}.`,
        {
          hint: 'Wait for that run to finish. If no run is active, remove the folder ' + lockDir,
          context: { remote: lockDir },
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
