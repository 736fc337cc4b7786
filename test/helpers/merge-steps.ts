// The moments of a point's deletion with its merge (point-deleter.ts, chain-collapser.ts, vhd-merge.ts,
// merge-digests.ts) at which a kill leaves something different behind, each told by the file operation that
// ends (or, `before`, starts) it. merge-child.ts freezes at one of them; merge-kill.test.ts picks them.

/** One call of `fs.promises[op]` made by the merging process. */
export interface FsCall {
  args: string[];
  /** The file name of the VHD being merged away (the deleted point's). */
  parent: string;
  /** The file name of argument `i`. */
  base: (i: number) => string;
}

export interface MergeStep {
  op: 'rename' | 'rm' | 'open';
  when: 'before' | 'after';
  matches: (c: FsCall) => boolean;
  /** What `sluice check` must report after a kill here (the kinds, in order). */
  expected: string[];
}

const UNFINISHED = ['unfinished-merge'];

export const MERGE_STEPS = {
  /** The point's metadata is gone (it no longer exists); its VHD waits to be merged. */
  'metadata-removed': {
    op: 'rm',
    when: 'after',
    matches: (c) => c.base(0) === c.parent.replace(/\.vhd$/, '.json'),
    expected: ['pending-merge'],
  },
  /** The parent's block digests moved aside, before the state file exists. */
  'digests-set-aside': {
    op: 'rename',
    when: 'after',
    matches: (c) => c.base(1) === `${c.parent}.merge-checksum.json`,
    expected: ['pending-merge'],
  },
  /** The n-th state file write: 1 before the first block, one per block, the last says `cleanupVhds`. */
  'state-written': {
    op: 'rename',
    when: 'after',
    matches: (c) => c.base(1) === `.${c.parent}.merge.json`,
    expected: UNFINISHED,
  },
  /** The new footer (the child's identity) is durable at both places; the merged digests are not written. */
  'footer-written': {
    op: 'open',
    when: 'before',
    matches: (c) =>
      (c.args[1] === 'wx' || c.args[1] === 'wx+') &&
      c.base(0).startsWith('.') &&
      c.base(0).endsWith(`.${c.parent}.checksum.json`),
    expected: UNFINISHED,
  },
  /** The child's own digests removed, just before the merged file is renamed over it. */
  'child-digests-removed': {
    op: 'rm',
    when: 'after',
    matches: (c) => c.base(0).endsWith('.vhd.checksum.json') && c.base(0) !== `${c.parent}.checksum.json`,
    expected: UNFINISHED,
  },
  /** The merged file took the child's name. */
  renamed: { op: 'rename', when: 'after', matches: (c) => c.base(0) === c.parent, expected: UNFINISHED },
  /** The merged file's digests followed it. */
  'digests-moved': {
    op: 'rename',
    when: 'after',
    matches: (c) => c.base(0) === `${c.parent}.checksum.json` && c.base(1).endsWith('.vhd.checksum.json'),
    expected: UNFINISHED,
  },
  /** The parent's digests set aside at the start are removed. */
  'aside-removed': {
    op: 'rm',
    when: 'after',
    matches: (c) => c.base(0) === `${c.parent}.merge-checksum.json`,
    expected: UNFINISHED,
  },
  /** The state file is removed: the merge is over. */
  'state-removed': {
    op: 'rm',
    when: 'after',
    matches: (c) => c.base(0) === `.${c.parent}.merge.json`,
    expected: [],
  },
  // A merge of VHD directories (vhd-directory-merge.ts); `parent` is then the parent's alias name.
  /** The merged directory's footer (the child's identity) replaced; the aliases are as they were. */
  'dir-footer-written': {
    op: 'rename',
    when: 'after',
    matches: (c) => c.base(1) === 'footer' && c.parent.endsWith('.alias.vhd'),
    expected: UNFINISHED,
  },
  /** The child's alias names the merged directory; the parent's alias is still there. */
  'dir-alias-swapped': {
    op: 'rename',
    when: 'after',
    matches: (c) => c.base(1).endsWith('.alias.vhd') && c.base(1) !== c.parent,
    expected: UNFINISHED,
  },
  /** The parent's alias removed; the child's old directory not yet. */
  'dir-parent-alias-removed': { op: 'rm', when: 'after', matches: (c) => c.base(0) === c.parent, expected: UNFINISHED },
} satisfies Record<string, MergeStep>;

export type MergeStepName = keyof typeof MERGE_STEPS;
