import { SluiceError } from '../errors/sluice-error.js';
import { FolderRemote } from '../remotes/folder-remote-store.js';
import type { Remote } from '../remotes/remote.js';

/**
 * The VHD merge still rewrites files by local path (its block writes, its state file, its rename), so it runs
 * only on folder remotes, on folders the scan has already proven to be inside the repository (links are never
 * merged). A remote without in-place updates merges VHD directories instead (XO's layout on object storage).
 */
export function localFolderOf(remote: Remote, folderKey: string): string {
  if (remote instanceof FolderRemote) return remote.pathOf(folderKey);
  throw new SluiceError('REMOTE_ERROR', `Merging VHDs on ${remote.label} is not supported yet.`, {
    hint: 'Keep incremental backups on a folder remote for now; nothing was changed.',
    context: { remote: remote.label },
  });
}
