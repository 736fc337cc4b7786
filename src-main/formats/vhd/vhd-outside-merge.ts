import { BAT_ABSENT } from './vhd-structures.js';

// Xen Orchestra knows nothing of Sluice's checksum files. When it merges a chain it writes the newer file's
// blocks into the older one, gives that the newer one's footer uuid and renames it over the newer one: the
// name now holds a file whose checksum file describes the newer VHD as it was before the merge. Telling that
// apart from damage, by what the two say, never by a guess:
//   - the footer uuid is the one recorded (a merge keeps the newer file's; another uuid is another VHD);
//   - the recorded file was differencing, and its parent link is now another (the merged-away parent's own
//     parent) or none: a merge is the only rewrite that moves a link while keeping the uuid;
//   - every block the checksums record is still in the block table: a merge only adds the parent's blocks.
// The reader has already checked the footer and header checksums and the BAT's bounds, so a flipped bit in a
// link or uuid is caught there, not taken for a merge. What passes is checked by structure only.

export interface LinkChange {
  /** Footer uuids, recorded and now. */
  uuid: { was: string; now: string };
  /** Parent uuids (null for a full VHD), recorded and now. */
  parent: { was: string | null; now: string | null };
}

/** Why the file cannot be the result of a merge by another tool; undefined when it can. */
export function notAnOutsideMerge(change: LinkChange, recordedBlocks: Buffer, bat: Uint32Array): string | undefined {
  if (change.uuid.now !== change.uuid.was)
    return `its footer uuid is ${change.uuid.now}, not ${change.uuid.was} (a merge keeps the newer file's uuid)`;
  if (change.parent.was === null)
    return 'it was recorded as a full VHD, which no merge rewrites under its own name with a parent';
  for (let i = 0; i * 8 < recordedBlocks.length; i++) {
    if (recordedBlocks.readBigUInt64BE(i * 8) === 0n) continue;
    if (i >= bat.length || bat[i] === BAT_ABSENT)
      return `block ${i}, which its checksums record, is no longer in its block table (a merge only adds blocks)`;
  }
  return undefined;
}
