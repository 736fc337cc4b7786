import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from '../remotes/remote.js';

/**
 * Incremental points are VHD files that the merge rewrites in place and renames: only where the remote can.
 * On an object store they must be VHD directories (XO's layout there), which Sluice does not write yet; the
 * refusal comes before anything is written or any host is asked for a snapshot.
 */
export function refuseDeltaWithoutVhdFiles(remote: Remote): void {
  if (remote.capabilities.rename && remote.capabilities.inPlaceUpdate) return;
  throw new SluiceError('VALIDATION', `Incremental (delta) backups to ${remote.label} are not supported yet.`, {
    hint:
      'This remote cannot rename or change files in place, which VHD files and their merges need; on object storage ' +
      'incremental backups need VHD directories, which Sluice does not write yet. Use --mode full for this remote, ' +
      'or a folder remote for incremental backups. Nothing was written.',
    context: { remote: remote.label, phase: 'preflight' },
  });
}
