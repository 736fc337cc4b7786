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
  /**
   * ms between refreshes of the lock folder's mtime while it is held (default 5 s). Xen Orchestra's lock
   * (proper-lockfile) holds a VM folder the same way and takes a lock whose mtime is over 10 s old as stale: a
   * lock it sees refreshed is one it leaves alone.
   */
  refreshMs?: number;
  /** Who holds a lock without an owner file, as the conflict message says it (`by Xen Orchestra …`). */
  foreignHolder?: string;
}

/** Frees the lock (removes its folder). */
export type ReleaseLock = () => Promise<void>;

/**
 * A lock that is a folder (`mkdir` is atomic on every file system, local or shared) with its holder in
 * `owner.json`: one holder at a time, its mtime refreshed while held. A lock left by a process that died on this
 * machine is taken over; one held by another machine is respected, and one without an owner file (Xen
 * Orchestra's, or ours between the mkdir and the write) only once its mtime is a minute old: XO refreshes its own
 * every 5 s, and a minute leaves room for clocks that differ between the machines sharing the remote.
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
      const refresh = keepFresh(lockDir, opts.refreshMs ?? 5000);
      return async () => {
        refresh.stop();
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
        `${opts.subject ?? `The lock ${lockDir}`} is in use ${owner ? `by ${owner.purpose} (process ${owner.pid} on ${owner.hostname}, since ${owner.startedAt})` : (opts.foreignHolder ?? 'by another program')}.`,
        {
          hint: opts.hint ?? `Wait for that process to finish. If it is not running, remove the folder ${lockDir}`,
          context: opts.context ?? { lock: lockDir },
        },
      );
    }
  }
  throw new SluiceError('CONFLICT', `Could not take the lock ${lockDir}.`, { hint: 'Try again.' });
}

/**
 * Touches the lock folder's mtime on a timer that never keeps the process alive; one touch at a time. On a
 * share whose server stalls (an SMB or NFS mount) a touch blocks one of libuv's 4 file-system threads until the
 * server answers: a touch per tick would take them all within 20 s, and the spool's writes to the local disk,
 * which keep the host's export flowing through the stall, would wait behind them (measured with Samba paused).
 */
function keepFresh(lockDir: string, everyMs: number): { stop(): void } {
  let touching = false;
  const timer = setInterval(() => {
    if (touching) return;
    touching = true;
    const now = new Date();
    fs.utimes(lockDir, now, now)
      .catch(() => {
        // Gone or unreachable for a moment: the next tick tries again, and the release removes what is left.
      })
      .finally(() => (touching = false));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function olderThan(p: string, ms: number): Promise<boolean> {
  const st = await fs.stat(p).catch(() => undefined);
  return st ? Date.now() - st.mtimeMs > ms : true;
}
