// What is wrong with a damaged file or stream, as a field callers branch on (a truncated download is retried,
// a bad checksum is not) instead of a string they must parse. The lowest layer holds the whole vocabulary so
// formats/ (which names the kinds it finds) and the repository (which adds its own) agree on one type.

/** The kinds of damage Sluice reports; each format's own list is a subset (see formats/format-error.ts). */
export type DamageKind =
  // VHD structures (formats/vhd/vhd-errors.ts describes each).
  | 'footer'
  | 'header'
  | 'bat'
  | 'block'
  | 'unsupported'
  | 'usage'
  // XVA streams (formats/xva/xva-verify-error.ts describes each).
  | 'tar-header'
  | 'extended-header'
  | 'padding'
  | 'ova-xml'
  | 'chunk-checksum'
  | 'checksum-format'
  | 'missing-checksum'
  | 'orphan-checksum'
  | 'chunk-order'
  | 'chunk-size'
  | 'mixed-checksums'
  // Both: the bytes ended early, or went on past the end.
  | 'truncated'
  | 'trailing-data'
  // Repository: a parent a chain needs is not there.
  | 'missing-parent'
  /** A VHD's footer copy, header, parent locators or BAT changed since the backup wrote them. */
  | 'metadata'
  /** A whole file does not match its checksum file. */
  | 'file-checksum'
  /** A key on the remote that is not a safe relative path. */
  | 'path'
  /** A file too large to be what it claims to be. */
  | 'size';

/** Where the damage is: the kind, and the file and byte when known. */
export interface Damage {
  kind: DamageKind;
  offset?: number;
  file?: string;
}
