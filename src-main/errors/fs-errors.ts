import { SluiceError } from './sluice-error.js';

/** Which side a file lives on: the backup's destination, or the local spool that absorbs a slow destination. */
export type FsSide = 'remote' | 'spool';

const WORDS: Record<FsSide, Record<string, [string, string]>> = {
  remote: {
    ENOSPC: [
      'the destination is full',
      'Free space on the remote, or lower retention, then run the backup again. No existing backup was touched.',
    ],
    EDQUOT: ['the destination quota is exhausted', 'Raise the quota or free space on the remote.'],
    EACCES: ['permission was denied', 'Give the user running Sluice write access to the remote folder.'],
    EPERM: ['the operation is not permitted there', 'Give the user running Sluice write access to the remote folder.'],
    EROFS: ['the destination is mounted read-only', 'Remount the share read-write.'],
    ENOENT: ['the folder does not exist', 'Check the remote path, and that the share is mounted.'],
    ENOTDIR: ['part of the path is not a folder', 'Check the remote path.'],
    EIO: ['the destination reported an I/O error', 'Check the disk or the network share.'],
    ESTALE: ['the network share went away (stale handle)', 'Remount the share and run the backup again.'],
    ETIMEDOUT: ['the network share stopped answering', 'Check the NAS and the network.'],
    EEXIST: [
      'a file of that name already exists',
      'Another writer is using this folder; make sure only one Sluice writes to this repository.',
    ],
  },
  spool: {
    ENOSPC: [
      'the local disk of the spool is full',
      'Free space in the spool folder, choose another spool folder or a smaller spool size in Settings, then run the backup again. The remote was not the problem, and no existing backup was touched.',
    ],
    EDQUOT: [
      'the quota of the spool folder is exhausted',
      'Raise the quota, or choose another spool folder in Settings.',
    ],
    EACCES: [
      'permission was denied',
      'Give the user running Sluice write access to the spool folder, or choose another one in Settings.',
    ],
    EPERM: [
      'the operation is not permitted there',
      'Give the user running Sluice write access to the spool folder, or choose another one in Settings.',
    ],
    EROFS: [
      'the spool folder is on a read-only file system',
      'Choose a spool folder on a writable local disk in Settings.',
    ],
    EIO: [
      'the local disk reported an I/O error',
      'Check the disk of the spool folder, or choose another one in Settings.',
    ],
  },
};
const FALLBACK_HINT: Record<FsSide, string> = {
  remote: 'Check the remote, then run the backup again.',
  spool: 'Check the spool folder in Settings, then run the backup again.',
};

/**
 * File-system failures, in words an admin can act on. `side` names where to act: a full spool asks for room in
 * the spool folder (or a smaller spool), never on the remote, which was not the problem.
 */
export function describeFsError(err: unknown, target: string, action: string, side: FsSide = 'remote'): SluiceError {
  if (err instanceof SluiceError) return err;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  const [what, hint] = WORDS[side][code] ?? [
    `it failed (${code || (err as Error)?.message || String(err)})`,
    FALLBACK_HINT[side],
  ];
  return new SluiceError('REMOTE_ERROR', `Could not ${action} ${target}: ${what}.`, {
    hint,
    context: { [side]: target },
    cause: err,
  });
}
