import os from 'node:os';
import type { ReleaseLock } from '../core/directory-lock.js';
import { pidAlive } from '../core/pid-alive.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from '../remotes/remote.js';

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  purpose: string;
  /** Rewritten while the lock is held: a holder on another machine that stopped refreshing it is gone. */
  refreshedAt: string;
}

/** How often a held lock is rewritten, and after how long without that another machine may take it over. */
const REFRESH_MS = 30_000;
const STALE_MS = 10 * 60_000;

/**
 * A lock on a remote without folders (an object store): one object, written only if absent (If-None-Match: *, so
 * two takers cannot both succeed), holding its owner and rewritten every 30 s while held. One left by a dead
 * process of this machine is taken over at once; one of another machine once it went 10 minutes without a
 * refresh (room for clocks that differ). Xen Orchestra takes no lock on object storage; this one keeps two
 * Sluice runs apart.
 */
export async function lockObject(
  remote: Remote,
  key: string,
  opts: { purpose: string; subject: string },
): Promise<ReleaseLock> {
  const now = () => new Date().toISOString();
  const me: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: now(),
    purpose: opts.purpose,
    refreshedAt: now(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await remote.writeNew(key, JSON.stringify(me));
    } catch (err) {
      if (!(err instanceof SluiceError) || err.code !== 'CONFLICT') throw err;
      const owner = await remote
        .readIfExists(key, { maxBytes: 64 * 1024 })
        .then((b) => (b ? (JSON.parse(b.toString('utf8')) as LockOwner) : undefined))
        .catch(() => undefined);
      const refreshed = owner ? Date.parse(owner.refreshedAt) : NaN;
      const stale =
        owner === undefined ||
        (owner.hostname === me.hostname && !pidAlive(owner.pid)) ||
        !(Date.now() - refreshed < STALE_MS);
      if (stale) {
        await remote.delete(key);
        continue;
      }
      throw new SluiceError(
        'CONFLICT',
        `${opts.subject} is in use by ${owner.purpose} (process ${owner.pid} on ${owner.hostname}, since ${owner.startedAt}).`,
        {
          hint: `Wait for that run to finish. If it is not running, delete ${remote.displayPath(key)}.`,
          context: { remote: remote.label },
        },
      );
    }
    const timer = setInterval(() => {
      remote.overwrite(key, JSON.stringify({ ...me, refreshedAt: now() })).catch(() => {
        // Unreachable for a moment: the next tick tries again.
      });
    }, REFRESH_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await remote.delete(key);
    };
  }
  throw new SluiceError('CONFLICT', `Could not take the lock ${remote.displayPath(key)}.`, { hint: 'Try again.' });
}
