import { SluiceError } from '../errors/sluice-error.js';
import { VhdChainError } from '../formats/vhd/vhd-errors.js';

// The VHD chain reader only knows that two files do not link up; here they are a backup chain on a remote,
// which the user can act on.

const HINTS = {
  broken:
    'The incremental backup chain on the remote is broken (a file is missing, was replaced or belongs to another disk). ' +
    'Restore from an older point, or run a full backup to start a new chain.',
  unsupported: 'Sluice only reads chains with one block size; restore this point with Xen Orchestra or vhd-util.',
} as const;

/** A VhdChainError as the repository error it is; anything else unchanged. */
export function asChainProblem(err: unknown): unknown {
  if (!(err instanceof VhdChainError)) return err;
  return new SluiceError('REMOTE_ERROR', err.message, {
    hint: HINTS[err.problem],
    context: { file: err.file, phase: 'read VHD chain' },
    cause: err,
  });
}
