import { SluiceError } from '../../errors/sluice-error.js';

// Two kinds of VHD failure. A VhdFormatError is damage inside one file or stream, located to the byte so a
// failed backup or restore can say where it is. A VhdChainError is a repository problem between files (a
// child that does not belong to its parent): that is a broken backup chain on the remote, which the user can
// act on, so it is a SluiceError with a hint.

/** What is wrong, for callers that react differently (a truncated download is retried, a bad checksum is not). */
export type VhdDamage =
  /** Footer cookie, checksum or fields wrong, or the trailing footer differs from the copy at byte 0. */
  | 'footer'
  /** Dynamic header cookie, checksum or fields wrong. */
  | 'header'
  /** A block allocation table entry that points outside the file or onto other structures. */
  | 'bat'
  /** A block that cannot be read or written where it should be. */
  | 'block'
  /** Valid VHD, but a kind Sluice does not handle (fixed disks, odd block sizes…). */
  | 'unsupported'
  /** The stream or file ended early. */
  | 'truncated'
  /** Bytes after the trailing footer. */
  | 'trailing-data'
  /** The caller used an API out of order (e.g. blocks not in increasing order). */
  | 'usage';

export class VhdFormatError extends Error {
  readonly damage: VhdDamage;
  /** Byte of the file or stream where the damage is (the start of the structure at fault, or where it ended). */
  readonly offset: number;
  /** The file or stream, as the caller named it (a path, "host stream of VDI …"), when known. */
  readonly source: string | undefined;

  constructor(damage: VhdDamage, message: string, where: { offset: number; source?: string | undefined }) {
    super(
      where.source === undefined
        ? `${message} (at byte ${where.offset})`
        : `${where.source}: ${message} (at byte ${where.offset})`,
    );
    this.name = 'VhdFormatError';
    this.damage = damage;
    this.offset = where.offset;
    this.source = where.source;
  }
}

/** A chain of VHD files whose links do not hold: the remote's backup chain is broken or incomplete. */
export class VhdChainError extends SluiceError {
  /** The file whose link to its parent is wrong. */
  readonly file: string;

  constructor(file: string, message: string, hint?: string) {
    super('REMOTE_ERROR', message, {
      hint:
        hint ??
        'The incremental backup chain on the remote is broken (a file is missing, was replaced or belongs to another disk). ' +
          'Restore from an older point, or run a full backup to start a new chain.',
      context: { file, phase: 'read VHD chain' },
    });
    this.name = 'VhdChainError';
    this.file = file;
  }
}
