import { SluiceError } from './sluice-error.js';

/** File-system failures on a remote, in words an admin can act on. */
export function describeFsError(err: unknown, target: string, action: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const table: Record<string, [string, string]> = {
    ENOSPC: ['the destination is full', 'Free space on the remote, or lower retention, then run the backup again. No existing backup was touched.'],
    EDQUOT: ['the destination quota is exhausted', 'Raise the quota or free space on the remote.'],
    EACCES: ['permission was denied', 'Give the user running Sluice write access to the remote folder.'],
    EPERM: ['the operation is not permitted there', 'Give the user running Sluice write access to the remote folder.'],
    EROFS: ['the destination is mounted read-only', 'Remount the share read-write.'],
    ENOENT: ['the folder does not exist', 'Check the remote path, and that the share is mounted.'],
    ENOTDIR: ['part of the path is not a folder', 'Check the remote path.'],
    EIO: ['the destination reported an I/O error', 'Check the disk or the network share.'],
    ESTALE: ['the network share went away (stale handle)', 'Remount the share and run the backup again.'],
    ETIMEDOUT: ['the network share stopped answering', 'Check the NAS and the network.'],
    EEXIST: ['a file of that name already exists', 'Another writer is using this folder; make sure only one Sluice writes to this repository.'],
  };
  const [what, hint] = table[code] ?? [`it failed (${code || (err as Error)?.message || String(err)})`, 'Check the remote, then run the backup again.'];
  return new SluiceError('REMOTE_ERROR', `Could not ${action} ${target}: ${what}.`, { hint, context: { remote: target }, cause: err });
}
