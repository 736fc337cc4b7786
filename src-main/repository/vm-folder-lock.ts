import { lockDirectory, type ReleaseLock } from '../core/directory-lock.js';

/**
 * The VM folder's lock, as XO keeps it (`<vmUuid>.lock/`): one writer per VM folder at a time (backups, clean-up,
 * repair, deletes).
 */
export function lockVmFolder(lockDir: string, purpose: string): Promise<ReleaseLock> {
  return lockDirectory(lockDir, {
    purpose,
    subject: "This VM's backup folder",
    hint: 'Wait for that run to finish. If no run is active, remove the folder ' + lockDir,
    context: { remote: lockDir },
  });
}
