import { FormatError } from '../format-error.js';

// The one error the XVA verifier throws. It says what is wrong, in which entry and at which byte of the
// stream, so a failed backup or `verify` can point at the damage instead of just failing.

/** Kinds of damage, for callers that react differently (e.g. retry a truncated download, not a bad checksum). */
export type XvaDamage =
  /** A tar header whose checksum or numbers are wrong, or a lone end-of-archive block. */
  | 'tar-header'
  /** A pax or GNU extended header that cannot be read. */
  | 'extended-header'
  /** Non-zero bytes where tar pads an entry to a whole block. */
  | 'padding'
  /** ova.xml missing, not first, repeated, too large or not text. */
  | 'ova-xml'
  /** A chunk whose data does not match its checksum entry. */
  | 'chunk-checksum'
  /** A checksum entry whose text is not a checksum. */
  | 'checksum-format'
  /** A data chunk not followed by its checksum entry. */
  | 'missing-checksum'
  /** A checksum entry without the data chunk just before it. */
  | 'orphan-checksum'
  /** Chunk numbers of a disk that do not go up. */
  | 'chunk-order'
  /** A chunk larger than the format allows, or a short chunk that is not a disk's last. */
  | 'chunk-size'
  /** A checksum of a different algorithm than the stream used so far, for a chunk hashed only the old way. */
  | 'mixed-checksums'
  /** The stream ended before the archive did. */
  | 'truncated'
  /** Bytes after the end of the archive that are not zero padding. */
  | 'trailing-data';

/** Its offset is the byte of the stream: the start of the entry or header at fault, or where the stream ended. */
export class XvaVerifyError extends FormatError<XvaDamage> {
  /** The entry at fault, e.g. "Ref:3/00000012", when there is one. */
  readonly entry?: string;

  constructor(damage: XvaDamage, message: string, where: { offset: number; entry?: string }) {
    super(damage, message, where.offset);
    this.name = 'XvaVerifyError';
    if (where.entry !== undefined) this.entry = where.entry;
  }
}
