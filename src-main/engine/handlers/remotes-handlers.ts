import { SluiceError } from '../../errors/sluice-error.js';
import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import { testOpenedRemote } from '../../remotes/remote-preflight.js';
import { openExistingRemote, openRemote } from '../../remotes/remote-registry.js';
import { parseRemoteKey, remoteKeySecretId } from '../../remotes/encryption-keys.js';
import { refuseUnmountedShare } from '../../remotes/remote-marker.js';
import { forgetS3ClientOf } from '../../remotes/s3-remote.js';
import { remoteUsage } from '../../remotes/remote-usage.js';
import { listBackupPoints, BACKUPS_DIR } from '../../repository/index.js';
import type { EngineContext } from '../engine-context.js';
import type { RemoteSetting } from '../../settings/settings-schema.js';
import {
  forgetRemote,
  newFolderRemoteSetting,
  newS3RemoteSetting,
  openSavedRemote,
  remoteSummary,
} from '../saved-remotes.js';

export function remotesHandlers(
  ctx: EngineContext,
): Pick<Handlers, 'remotes.list' | 'remotes.add' | 'remotes.remove' | 'remotes.test' | 'remotes.usage'> {
  return {
    'remotes.list': async () => ctx.settings.get().remotes.map(remoteSummary),
    'remotes.add': async (req) => {
      if (ctx.settings.get().remotes.some((r) => r.name === req.name)) {
        throw new SluiceError('CONFLICT', `A remote named "${req.name}" already exists.`, {
          hint: 'Choose another name.',
        });
      }
      const key = req.encryptionKey !== undefined ? parseRemoteKey(req.encryptionKey) : undefined;
      const base =
        req.kind === 's3'
          ? await newS3RemoteSetting(ctx, req.name, req.s3!)
          : newFolderRemoteSetting(req.name, req.path!, req.useVhdDirectory === true);
      const remote = key ? { ...base, encrypted: true as const } : base;
      const same = ctx.settings.get().remotes.find((r) => r.kind === 's3' && r.path === remote.path);
      if (same) {
        await forgetRemote(ctx, remote);
        // One location, one set of keys: the engine finds a saved S3 remote's keys by its location.
        throw new SluiceError('CONFLICT', `The remote "${same.name}" is already ${remote.path}.`, {
          hint: 'Use that remote, or remove it first to save the location with other keys.',
        });
      }
      try {
        await proveNewRemote(remote.path, key, req.kind === 's3' ? req.s3 : undefined);
        if (key) {
          // From now on every use of the remote looks its key up there (engine/saved-remote-keys.ts).
          await ctx.secrets.set(remoteKeySecretId(remote.id), req.encryptionKey!);
        }
        await ctx.settings.update((s) => void s.remotes.push(remote));
      } catch (err) {
        await forgetRemote(ctx, remote);
        if (key) await ctx.secrets.delete(remoteKeySecretId(remote.id)).catch(() => {});
        throw err;
      }
      ctx.bus.emit('settings.changed', { section: 'remotes' });
      return remoteSummary(remote);
    },
    'remotes.test': async ({ id }) => {
      const remote = ctx.settings.get().remotes.find((r) => r.id === id);
      if (!remote)
        throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', { hint: 'Add it again.' });
      const r = await testSavedRemote(ctx, remote);
      return {
        path: remote.path,
        freeBytes: r.freeBytes ?? null,
        totalBytes: r.totalBytes ?? null,
        writeBytesPerSec: r.writeBytesPerSec,
        testedBytes: r.testedBytes,
      };
    },
    'remotes.usage': async ({ id }) => {
      const remote = ctx.settings.get().remotes.find((r) => r.id === id);
      if (!remote)
        throw new SluiceError('NOT_FOUND', 'That remote is no longer configured.', { hint: 'Add it again.' });
      const usage = await remoteUsage(
        remote.kind === 'folder' ? openRemote(remote.path) : await openSavedRemote(remote),
        BACKUPS_DIR,
      );
      const { points } = await listBackupPoints(remote.path);
      return { ...usage, points: points.length, vms: new Set(points.map((p) => p.vmUuid)).size };
    },
    'remotes.remove': async ({ id }) => {
      const gone = ctx.settings.get().remotes.find((r) => r.id === id);
      if (!gone) return { removed: false };
      await ctx.settings.update((s) => void (s.remotes = s.remotes.filter((r) => r.id !== id)));
      await forgetRemote(ctx, gone);
      if (gone.encrypted) await ctx.secrets.delete(remoteKeySecretId(id));
      ctx.bus.emit('settings.changed', { section: 'remotes' });
      return { removed: true };
    },
  };
}

/**
 * A new remote proven before it is saved, so that a wrong secret key, a missing bucket or a wrong encryption
 * key is said at once and nothing is saved: an S3 remote's keys and bucket (Sluice never creates a bucket), an
 * encrypted remote's key (or an empty one set up with it). A folder is proven at its first use, as before. The
 * client made with the form's keys goes afterwards: the saved remote is opened with its keys from the secret
 * store, and a refused key does not stay in the engine's memory.
 */
async function proveNewRemote(
  location: string,
  key: Buffer | undefined,
  s3: { accessKeyId: string; secretAccessKey: string } | undefined,
): Promise<void> {
  if (!key && !s3) return;
  const credentials = s3 ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined;
  try {
    await openExistingRemote(location, { ...(key ? { key } : {}), ...(credentials ? { credentials } : {}) });
  } finally {
    if (credentials) forgetS3ClientOf(location, credentials);
  }
}

/**
 * S3: the keys and the bucket (openSavedRemote), then a probe object written, read and deleted, and the write
 * speed of a multipart upload; a folder: present, writable, its free space and write speed (a folder's own
 * test says why a missing one fails, in the file system's words). An unmounted share's empty mount point would
 * test as a writable local folder: refused as a backup is.
 */
async function testSavedRemote(ctx: EngineContext, remote: RemoteSetting) {
  if (remote.kind === 'folder') {
    const opened = openRemote(remote.path);
    await refuseUnmountedShare(opened.inner ?? opened, remote.path, ctx.dataDir);
  }
  return testOpenedRemote(remote.kind === 'folder' ? openRemote(remote.path) : await openSavedRemote(remote));
}
