import { lockDirectory, type ReleaseLock } from '../core/directory-lock.js';
import { SluiceError } from '../errors/sluice-error.js';
import { FolderRemote } from '../remotes/folder-remote-store.js';
import { mediumOf, type Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { lockObject } from './object-lock.js';
import { vmLockKey, xoListingCacheKey } from './repository-keys.js';

/**
 * The VM folder's lock, as XO keeps it (`<vmUuid>.lock/`, its mtime refreshed while held): one writer per VM
 * folder at a time (backups, clean-up, repair, deletes), Sluice or Xen Orchestra. A directory made atomically
 * on the folder's own file system; on a remote without folders (S3) an object in that folder written only if
 * absent, with a lease (object-lock.ts).
 */
export async function lockVmFolder(remote: Remote, vmUuid: string, purpose: string): Promise<ReleaseLock> {
  const key = vmLockKey(vmUuid);
  // The lock is made on the medium itself, under any layer (encryption) above it.
  const medium = mediumOf(remote);
  if (!(medium instanceof FolderRemote)) {
    const release = await lockObject(medium, joinKey(key, 'owner.json'), {
      purpose,
      subject: "This VM's backup folder",
    });
    return releaseAfterForgetting(remote, vmUuid, release);
  }
  const lockDir = medium.pathOf(key);
  const release = await lockDirectory(lockDir, {
    purpose,
    subject: "This VM's backup folder",
    // XO's lock (proper-lockfile) is an empty folder whose mtime it refreshes every 5 s.
    foreignHolder: 'by another program, most likely Xen Orchestra backing up or merging this VM',
    hint: 'Wait for that run to finish. If no run is active, remove the folder ' + lockDir,
    context: { remote: lockDir },
  });
  return releaseAfterForgetting(remote, vmUuid, release);
}

function releaseAfterForgetting(remote: Remote, vmUuid: string, release: ReleaseLock): ReleaseLock {
  return async () => {
    try {
      await forgetXoListing(remote, vmUuid);
    } finally {
      await release();
    }
  };
}

/**
 * Every writer of a VM folder holds its lock, so its release is where XO's listing cache (`cache.json.gz`) is
 * made true again: removed, after the last change and before the lock goes, so that XO rebuilds it from the
 * metadata files on its next listing (as XO's own immutable-backups tool does) rather than keep listing points
 * Sluice added, merged or deleted. Removing beats rewriting it: a rewrite would have to follow XO's internal
 * format and could only ever be as true as Sluice's reading of it.
 */
async function forgetXoListing(remote: Remote, vmUuid: string): Promise<void> {
  await remote.delete(xoListingCacheKey(vmUuid)).catch((err: unknown) => {
    throw new SluiceError('REMOTE_ERROR', `Could not remove Xen Orchestra's listing cache of this VM folder.`, {
      hint: 'Xen Orchestra may list stale points until it is removed: delete cache.json.gz in the VM folder.',
      context: { remote: remote.label, file: xoListingCacheKey(vmUuid) },
      cause: err,
    });
  });
}
