import { lockDirectory, type ReleaseLock } from '../core/directory-lock.js';
import { SluiceError } from '../errors/sluice-error.js';
import { FolderRemote } from '../remotes/folder-remote-store.js';
import type { Remote } from '../remotes/remote.js';
import { vmLockKey } from './repository-keys.js';

/**
 * The VM folder's lock, as XO keeps it (`<vmUuid>.lock/`): one writer per VM folder at a time (backups, clean-up,
 * repair, deletes). A directory made atomically on the folder's own file system; a remote without folders
 * needs a lock of its own kind (an object written if absent, with a lease), which none offers yet.
 */
export function lockVmFolder(remote: Remote, vmUuid: string, purpose: string): Promise<ReleaseLock> {
  const key = vmLockKey(vmUuid);
  if (!(remote instanceof FolderRemote)) {
    throw new SluiceError('REMOTE_ERROR', `Sluice cannot lock a VM folder on ${remote.label} yet.`, {
      hint: 'Keep backups on a folder remote for now; nothing was changed.',
      context: { remote: remote.label },
    });
  }
  const lockDir = remote.pathOf(key);
  return lockDirectory(lockDir, {
    purpose,
    subject: "This VM's backup folder",
    hint: 'Wait for that run to finish. If no run is active, remove the folder ' + lockDir,
    context: { remote: lockDir },
  });
}
