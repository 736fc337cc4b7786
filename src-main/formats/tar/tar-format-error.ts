// What can be wrong with a tar stream as such, whatever the archive holds. Each kind carries the facts a
// reader needs to say it in its own words (an XVA verifier names chunks and exports); the message here is
// the plain tar version, for anyone else.

export type TarDamage =
  /** A header block whose checksum or numbers are wrong; `reason` says which. */
  | { kind: 'header'; reason: string; claimedName: string }
  /** One zero block with more entries after it, at `nextHeader`. */
  | { kind: 'lone-zero-block'; nextHeader: number }
  /** A non-zero byte in the padding after `entry`. */
  | { kind: 'padding'; entry: string }
  /** A pax or GNU extended header whose body cannot be read. */
  | { kind: 'extended-header'; reason: string }
  /** An extended header that claims more bytes than any real one holds. */
  | { kind: 'extended-header-size'; format: 'pax' | 'gnu'; entry: string; size: number }
  /** An extended header followed by the end-of-archive blocks (at `archiveEnd`) instead of its entry. */
  | { kind: 'dangling-extended-header'; archiveEnd: number }
  /** Non-zero bytes after the end-of-archive blocks. */
  | { kind: 'trailing-data' }
  /** Zero bytes after the end-of-archive blocks, beyond the record the archive ends in (at `recordEnd`). */
  | { kind: 'trailing-zeros'; recordEnd: number }
  /** The stream ended before it started. */
  | { kind: 'truncated-empty' }
  /** The stream ended inside `entry` (header at `entryOffset`), `missing` bytes short. */
  | { kind: 'truncated-in-entry'; entry: string; entryOffset: number; missing: number }
  | { kind: 'truncated-in-padding'; entry: string }
  | { kind: 'truncated-in-header'; headerOffset: number }
  | { kind: 'truncated-after-extended-header' }
  /** The stream ended on an entry boundary, after `zeroBlocks` of the two end-of-archive blocks. */
  | { kind: 'truncated-between-entries'; zeroBlocks: 0 | 1 };

export class TarFormatError extends Error {
  constructor(
    readonly damage: TarDamage,
    /** Byte of the stream where the damage is: the header or byte at fault, or where the stream ended. */
    readonly offset: number,
  ) {
    super(describe(damage, offset));
    this.name = 'TarFormatError';
  }
}

function describe(d: TarDamage, at: number): string {
  switch (d.kind) {
    case 'header':
      return `tar header at byte ${at} is damaged: ${d.reason}`;
    case 'lone-zero-block':
      return `lone zero block at byte ${at} with another header after it at byte ${d.nextHeader}`;
    case 'padding':
      return `non-zero byte at byte ${at} in the padding after entry ${d.entry}`;
    case 'extended-header':
      return `extended header at byte ${at} is corrupt: ${d.reason}`;
    case 'extended-header-size':
      return `extended header ${d.entry} at byte ${at} claims ${d.size} bytes, far more than it can hold`;
    case 'dangling-extended-header':
      return `extended header at byte ${at} is followed by the end of the archive (byte ${d.archiveEnd}), not by an entry`;
    case 'trailing-data':
      return `data after the end-of-archive blocks, at byte ${at}`;
    case 'trailing-zeros':
      return `zero byte at byte ${at}, past byte ${d.recordEnd} where the record the archive ends in ends`;
    case 'truncated-empty':
      return `the tar stream ends at byte ${at}, before its first header`;
    case 'truncated-in-entry':
      return `the tar stream ends at byte ${at}, inside entry ${d.entry} (at byte ${d.entryOffset}) with ${d.missing} of its bytes missing`;
    case 'truncated-in-padding':
      return `the tar stream ends at byte ${at}, in the padding after entry ${d.entry}`;
    case 'truncated-in-header':
      return `the tar stream ends at byte ${at}, inside the header that starts at byte ${d.headerOffset}`;
    case 'truncated-after-extended-header':
      return `the tar stream ends at byte ${at}, after an extended header but before its entry`;
    case 'truncated-between-entries':
      return `the tar stream ends at byte ${at} after ${d.zeroBlocks} of the two end-of-archive blocks`;
  }
}
