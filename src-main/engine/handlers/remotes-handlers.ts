import { randomUUID } from 'node:crypto';
import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import { testRemote } from '../../remotes/folder-remote.js';
import { checkRemoteLocation, openRemote } from '../../remotes/remote-registry.js';
import { refuseUnmountedShare } from '../../remotes/remote-marker.js';
import { remoteUsage } from '../../remotes/remote-usage.js';
import { listBackupPoints, BACKUPS_DIR } from '../../repository/index.js';
import type { EngineContext } from '../engine-context.js';

export function remotesHandlers(
  ctx: EngineContext,
): Pick<Handlers, 'remotes.list' | 'remotes.add' | 'remotes.remove' | 'remotes.test' | 'remotes.usage'> {
  return {
    'remotes.list': async () => ctx.settings.get().remotes,
    'remotes.add': async ({ name, path: dir }) => {
      // The rule the CLI's --remote follows too: a job never writes relative to wherever the engine started.
      checkRemoteLocation(dir);
      if (ctx.settings.get().remotes.some((r) => r.name === name)) {
        throw new SluiceError('CONFLICT', `A remote named "${name}" already exists.`, { hint: 'Choose another name.' });
      }
      const remote = { id: randomUUID(), name, kind: 'folder' as const, path: dir };
      await ctx.settings.update((s) => void s.remotes.push(remote));
      ctx.bus.emit('settings.changed', { section: 'remotes' });
      return remote;
    },
    'remotes.test': async ({ id }) => {
      const remote = ctx.settings.get().remotes.find((r) => r.id === id);
      if (!remote)
        throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', { hint: 'Add it again.' });
      // An unmounted share's empty mount point would test as a writable local folder: refused as a backup is
      // (a missing folder is left to the test itself, which says so).
      await refuseUnmountedShare(openRemote(remote.path), remote.path, ctx.dataDir);
      const r = await testRemote(remote.path);
      return {
        path: r.path,
        freeBytes: r.freeBytes,
        totalBytes: r.totalBytes,
        writeBytesPerSec: r.writeBytesPerSec,
        testedBytes: r.testedBytes,
      };
    },
    'remotes.usage': async ({ id }) => {
      const remote = ctx.settings.get().remotes.find((r) => r.id === id);
      if (!remote)
        throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', { hint: 'Add it again.' });
      const usage = await remoteUsage(remote.path, BACKUPS_DIR);
      const { points } = await listBackupPoints(remote.path);
      return { ...usage, points: points.length, vms: new Set(points.map((p) => p.vmUuid)).size };
    },
    'remotes.remove': async ({ id }) => {
      if (!ctx.settings.get().remotes.some((r) => r.id === id)) return { removed: false };
      await ctx.settings.update((s) => void (s.remotes = s.remotes.filter((r) => r.id !== id)));
      ctx.bus.emit('settings.changed', { section: 'remotes' });
      return { removed: true };
    },
  };
}
