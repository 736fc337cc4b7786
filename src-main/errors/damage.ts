// What is wrong with a damaged file or stream, as a field callers branch on (a truncated download is retried,
// a bad checksum is not) instead of a string they must parse. The lowest layer holds the whole vocabulary,
// each format's list written once here, so formats/ (which names the kinds it finds, formats/format-error.ts)
// and the repository (which adds its own) agree on one type.

/** Both formats: the bytes ended early, or went on past the end. */
type StreamEndDamage =
  /** The stream or file ended before the structure it was in. */
  | 'truncated'
  /** Bytes after the end (a VHD's trailing footer, an XVA's end of archive) that do not belong there. */
  | 'trailing-data';

/** What a VHD file or stream can be found to have (formats/vhd/vhd-errors.ts). */
export type VhdDamageKind =
  | StreamEndDamage
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
  /** The caller used an API out of order (e.g. blocks not in increasing order). */
  | 'usage';

/** What an XVA stream can be found to have (formats/xva/xva-verify-error.ts). */
export type XvaDamageKind =
  | StreamEndDamage
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
  /** A checksum entry whose text is not a checksum (also: a checksum file not in XO's form). */
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
  | 'mixed-checksums';

/** The kinds of damage Sluice reports: the formats' and the repository's own. */
export type DamageKind =
  | VhdDamageKind
  | XvaDamageKind
  /** A parent a chain needs is not there. */
  | 'missing-parent'
  /** A VHD's footer copy, header, parent locators or BAT changed since the backup wrote them. */
  | 'metadata'
  /** A whole file does not match its checksum file. */
  | 'file-checksum'
  /** A key on the remote that is not a safe relative path. */
  | 'path'
  /** A file too large to be what it claims to be. */
  | 'size'
  /** An encrypted file whose authentication tag does not match: changed or damaged, or another key's. */
  | 'authentication';

/** Where the damage is: the kind, and the file and byte when known. */
export interface Damage {
  kind: DamageKind;
  offset?: number;
  file?: string;
}
