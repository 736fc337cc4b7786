import { promises as fs } from 'node:fs';
import path from 'node:path';
import { openLocalFile } from '../core/random-access-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { digestsPathOf, loadDigests } from '../formats/vhd/vhd-block-digests.js';
import { readHeaderChecksum, VhdDynamicFile } from '../formats/vhd/vhd-dynamic-file.js';
import { VhdChainError } from '../formats/vhd/vhd-errors.js';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { DiskType } from '../formats/vhd/vhd-structures.js';
import { syncDir } from '../core/atomic-file.js';
import {
  finishMergedDigests,
  setAsideParentDigests,
  startMergedDigests,
  writeMergedDigests,
  type MergedDigests,
} from './merge-digests.js';
import { mergeBlocks, type VhdMergeOptions, type VhdMergeProgress } from './vhd-merge-blocks.js';
import { mergeStatePath, readMergeState, removeMergeState, writeMergeState, type MergeState } from './merge-state.js';

// Merges a child VHD into its parent in place, then renames the parent to the child's name, as Xen Orchestra
// does when a point is deleted: every later point still finds its parent file under the name it recorded.
//
// Only the child's allocated blocks are read, and only they are written into the parent (a block the parent
// lacks is appended; one it has is overwritten, sector by sector when the child's bitmap is partial). While the
// merge runs, the chain reads the same at every instant: the child still covers every sector it marks, and the
// parent changes only under those sectors. So a crash anywhere leaves every remaining point restorable, and
// redoing a block gives the same bytes: the merge is idempotent and resumes from its state file.
//
// Order of a batch, which is what makes a resume safe: footer moved past the room new blocks need → fsync →
// blocks → footer at the new end (file truncated there) → fsync → BAT entries → fsync → state file
// (currentBlock moves forward). The BAT never names a block that is
// not on disk, and the state never claims a block the BAT does not hold. Then: new footer (the child's uuid
// and size) at the end and at byte 0 → fsync → the merged file's block digests → step "cleanupVhds" → rename
// over the child (its digests follow) → state removed.
//
// Block digests (merge-digests.ts): the parent's are set aside before the state file exists; each block the
// merge writes gets a digest of the bytes written; a resumed run reads back the blocks earlier runs merged
// (it has no digests of them), never the parent's other blocks. A child block that does not match its own
// recorded digest stops the merge: damage is not merged into the base and blessed with a fresh digest.

export type { VhdMergeOptions, VhdMergeProgress };

export interface VhdMergeResult extends VhdMergeProgress {
  /** The merged file: the child's path, now holding the parent's blocks and the child's. */
  path: string;
  resumed: boolean;
}

/** Merges `childName` into `parentName` (both in `dir`); resumes instead if the parent has an unfinished merge. */
export async function mergeVhdIntoParent(
  dir: string,
  parentName: string,
  childName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  const statePath = mergeStatePath(dir, parentName);
  const existing = await readMergeState(statePath);
  if (existing) return runMerge(dir, statePath, existing, true, opts);
  const parentPath = path.join(dir, parentName);
  const childPath = path.join(dir, childName);
  // Strict opens: a truncated file or a bad checksum stops the merge before one byte of good data is touched.
  const parent = await VhdFileReader.open(parentPath);
  const child = await VhdFileReader.open(childPath).catch(async (err: unknown) => {
    await parent.close();
    throw err;
  });
  try {
    if (child.footer.diskType !== DiskType.Differencing)
      throw new VhdChainError(childPath, `${childPath} is a full VHD: there is nothing to merge it into`);
    if (child.header.parentUuid !== parent.footer.uuid) {
      throw new VhdChainError(
        childPath,
        `${childPath} is a child of VHD ${child.header.parentUuid}, not of ${parentPath} (VHD ${parent.footer.uuid}): refusing to merge`,
      );
    }
    if (child.header.blockSize !== parent.header.blockSize) {
      throw new VhdChainError(childPath, `${childPath} and ${parentPath} use different block sizes: refusing to merge`);
    }
    if (child.blockCount > parent.header.maxTableEntries) {
      throw new SluiceError(
        'REMOTE_ERROR',
        `The disk grew from ${parent.footer.currentSize} to ${child.footer.currentSize} bytes between ${parentName} and ${childName}; Sluice cannot merge such a chain in place yet.`,
        {
          hint: 'Keep these points (raise retention) or start a new chain with a full backup; the existing points stay restorable.',
          context: { remote: childPath, phase: 'merge' },
        },
      );
    }
  } finally {
    await parent.close();
    await child.close();
  }
  await setAsideParentDigests(parentPath).catch((err) => {
    throw describeFsError(err, digestsPathOf(parentPath), 'set aside the block digests of');
  });
  const state: MergeState = {
    chain: [parentName, childName],
    parent: { header: await readHeaderChecksum(parentPath) },
    child: { header: await readHeaderChecksum(childPath) },
    currentBlock: 0,
    mergedDataSize: 0,
    step: 'mergeBlocks',
    diskSize: 0,
  };
  await writeMergeState(statePath, state).catch((err) => {
    throw describeFsError(err, statePath, 'write the merge state');
  });
  return runMerge(dir, statePath, state, false, opts);
}

/** Finishes the merge a state file describes (a run that crashed, or XO's own two-file merge). */
export async function resumeVhdMerge(
  dir: string,
  stateName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  const statePath = path.join(dir, stateName);
  const state = await readMergeState(statePath);
  if (!state) throw new SluiceError('NOT_FOUND', `No merge state ${statePath}.`, { context: { remote: statePath } });
  return runMerge(dir, statePath, state, true, opts);
}

async function runMerge(
  dir: string,
  statePath: string,
  state: MergeState,
  resumed: boolean,
  opts: VhdMergeOptions,
): Promise<VhdMergeResult> {
  if (state.chain.length !== 2) {
    throw new SluiceError(
      'REMOTE_ERROR',
      `The unfinished merge ${statePath} spans ${state.chain.length} files (Xen Orchestra merges several at once); Sluice resumes two-file merges only.`,
      {
        hint: 'Let Xen Orchestra finish it (run its backup job or "check" the remote there); the chain is intact meanwhile.',
        context: { remote: statePath, phase: 'merge' },
      },
    );
  }
  const parentPath = path.join(dir, path.basename(state.chain[0]!));
  const childPath = path.join(dir, path.basename(state.chain[1]!));
  const progress: VhdMergeProgress = { blocksDone: 0, blocksTotal: 0, bytesRead: 0, bytesWritten: 0, bytesTotal: 0 };
  if (state.step === 'mergeBlocks') {
    let digests: MergedDigests | string;
    const parent = await openMergeTarget(parentPath, state.parent.header, resumed);
    try {
      const child = await VhdFileReader.open(childPath);
      try {
        if ((await readHeaderChecksum(childPath)) !== state.child.header) {
          throw new VhdChainError(
            childPath,
            `${childPath} is not the file the unfinished merge ${statePath} started on (its header changed): refusing to resume`,
          );
        }
        digests = await startMergedDigests(parentPath, child.blockCount).catch((err) => {
          throw describeFsError(err, digestsPathOf(parentPath), 'remove the block digests of');
        });
        await mergeBlocks(parent, child, state, statePath, progress, opts, {
          merged: digests,
          child: await loadDigests(childPath),
        });
        // The merged file stands for the child's point now: its uuid, size and time, at both footer places.
        parent.adoptIdentity(child.footer);
        await parent.writeTrailingFooter();
        await parent.writeFooterCopy();
        await parent.sync();
      } finally {
        await child.close();
      }
    } finally {
      await parent.close();
    }
    // Written only now: the parent will not change again (the rest is a rename), so the file describes it.
    await writeMergedDigests(parentPath, digests).catch((err) => {
      throw describeFsError(err, digestsPathOf(parentPath), 'write the block digests of');
    });
    state.step = 'cleanupVhds';
    await writeMergeState(statePath, state).catch((err) => {
      throw describeFsError(err, statePath, 'write the merge state');
    });
  }
  const renamed = await fs.access(parentPath).then(
    () => false,
    () => true,
  );
  if (!renamed) {
    // The child's digests describe the child, which the rename replaces: they go first (a crash between the
    // two leaves the child without digests, never with wrong ones).
    await fs.rm(digestsPathOf(childPath), { force: true });
    await fs.rename(parentPath, childPath).catch((err) => {
      throw describeFsError(err, parentPath, 'rename the merged VHD to');
    });
  } else if ((await readHeaderChecksum(childPath).catch(() => -1)) !== state.parent.header) {
    // Renamed before a crash: the child's name must then hold the merged file (the parent's header).
    throw new VhdChainError(
      parentPath,
      `${parentPath} is gone and ${childPath} is not the merged file the unfinished merge ${statePath} made: refusing to finish it`,
    );
  }
  await finishMergedDigests(parentPath, childPath).catch((err) => {
    throw describeFsError(err, digestsPathOf(childPath), 'move the block digests to');
  });
  await syncDir(dir);
  await removeMergeState(statePath);
  return { ...progress, path: childPath, resumed };
}

/**
 * A fresh merge opened the file strictly before; a resumed one may find the trailing footer overwritten by a
 * block the crash cut short (or by a merge Xen Orchestra started), so it trusts the copy at byte 0.
 */
async function openMergeTarget(
  file: string,
  expectedHeaderChecksum: number,
  resumed: boolean,
): Promise<VhdDynamicFile> {
  const raf = await openLocalFile(file, 'update').catch((err) => {
    throw describeFsError(err, file, 'open for merging');
  });
  return VhdDynamicFile.open(raf, {
    footerCopyFallback: resumed,
    checkHeader: (checksum) => {
      if (checksum !== expectedHeaderChecksum) {
        throw new VhdChainError(
          file,
          `${file} is not the file the merge started on (its header changed): refusing to write into it`,
        );
      }
    },
  });
}
