import { describe, expect, it } from 'vitest';
import { notAnOutsideMerge } from '../../src-main/formats/vhd/vhd-outside-merge.js';
import { BAT_ABSENT } from '../../src-main/formats/vhd/vhd-structures.js';

// The rule that tells a merge by another tool (Xen Orchestra's) from damage, on its own: every condition that
// fails must name why, so that verify reports damage rather than stale checksums.

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';

/** A checksum table recording the blocks `present` (one 8-byte digest per entry, zero for none). */
function recorded(entries: number, present: number[]): Buffer {
  const t = Buffer.alloc(entries * 8);
  for (const i of present) t.writeBigUInt64BE(BigInt(i + 1), i * 8);
  return t;
}

function bat(entries: number, present: number[]): Uint32Array {
  const b = new Uint32Array(entries).fill(BAT_ABSENT);
  present.forEach((i, n) => (b[i] = 4 + n * 4097));
  return b;
}

describe('a merge by another tool', () => {
  it('is the same uuid, a parent link moved up or dropped, and every recorded block still there (more allowed)', () => {
    const blocks = recorded(4, [1, 3]);
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: C }, parent: { was: B, now: null } }, blocks, bat(4, [0, 1, 3])),
    ).toBeUndefined();
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: C }, parent: { was: B, now: A } }, blocks, bat(4, [1, 3])),
    ).toBeUndefined();
  });

  it('is not another uuid, a full VHD given a parent, or a file missing a recorded block', () => {
    const blocks = recorded(4, [1, 3]);
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: B }, parent: { was: B, now: null } }, blocks, bat(4, [1, 3])),
    ).toMatch(/footer uuid is .*not .*keeps the newer file's uuid/);
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: C }, parent: { was: null, now: A } }, blocks, bat(4, [1, 3])),
    ).toMatch(/recorded as a full VHD/);
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: C }, parent: { was: B, now: null } }, blocks, bat(4, [0, 1])),
    ).toMatch(/block 3, which its checksums record, is no longer in its block table/);
    expect(
      notAnOutsideMerge({ uuid: { was: C, now: C }, parent: { was: B, now: null } }, recorded(5, [4]), bat(4, [0])),
    ).toMatch(/block 4/);
  });
});
