import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { digestsPathOf } from '../formats/vhd/vhd-block-digests.js';
import { VhdDynamicFile } from '../formats/vhd/vhd-dynamic-file.js';
import { VhdChainError } from '../formats/vhd/vhd-errors.js';
import { DiskType } from '../formats/vhd/vhd-structures.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import {
  finishMergedDigests,
  setAsideParentDigests,
  startMergedDigests,
  writeMergedDigests,
  type MergedDigests,
} from './merge-digests.js';
import { mergeStateKey, readMergeState, removeMergeState, writeMergeState, type MergeState } from './merge-state.js';
import { headerChecksumAt, loadDigests, openVhdFile } from './remote-vhd-files.js';
import { baseName } from './repository-keys.js';
import { mergeBlocks, type VhdMergeOptions, type VhdMergeProgress } from './vhd-merge-blocks.js';

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
  /** The merged file (for messages): the child's name, now holding the parent's blocks and the child's. */
  path: string;
  resumed: boolean;
}

/** The two files of a merge and its state file, by key, with the names messages give them. */
interface MergeFiles {
  remote: Remote;
  folderKey: string;
  parent: string;
  child: string;
  state: string;
}

function shown(files: MergeFiles, key: string): string {
  return files.remote.displayPath(key);
}

/**
 * Merges `childName` into `parentName` (both in the folder `folderKey` of `remote`); resumes instead if the
 * parent has an unfinished merge. The remote must offer renames and in-place updates (a folder, SMB).
 */
export async function mergeVhdIntoParent(
  remote: Remote,
  folderKey: string,
  parentName: string,
  childName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  requireInPlaceMerge(remote);
  const files: MergeFiles = {
    remote,
    folderKey,
    parent: joinKey(folderKey, parentName),
    child: joinKey(folderKey, childName),
    state: mergeStateKey(folderKey, parentName),
  };
  const existing = await readMergeState(remote, files.state);
  if (existing) return runMerge(stateFiles(remote, folderKey, files.state, existing), existing, true, opts);
  await checkMergeable(files);
  await setAsideParentDigests(remote, files.parent).catch((err) => {
    throw describeFsError(err, shown(files, digestsPathOf(files.parent)), 'set aside the block digests of');
  });
  const state: MergeState = {
    chain: [parentName, childName],
    parent: { header: await headerChecksumAt(remote, files.parent) },
    child: { header: await headerChecksumAt(remote, files.child) },
    currentBlock: 0,
    mergedDataSize: 0,
    step: 'mergeBlocks',
    diskSize: 0,
  };
  await writeMergeState(remote, files.state, state).catch((err) => {
    throw describeFsError(err, shown(files, files.state), 'write the merge state');
  });
  return runMerge(files, state, false, opts);
}

/** Strict opens: a truncated file or a bad checksum stops the merge before one byte of good data is touched. */
async function checkMergeable(files: MergeFiles): Promise<void> {
  const parent = await openVhdFile(files.remote, files.parent);
  const child = await openVhdFile(files.remote, files.child).catch(async (err: unknown) => {
    await parent.close();
    throw err;
  });
  const [parentPath, childPath] = [parent.path, child.path];
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
        `The disk grew from ${parent.footer.currentSize} to ${child.footer.currentSize} bytes between ${baseName(files.parent)} and ${baseName(files.child)}; Sluice cannot merge such a chain in place yet.`,
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
}

/** Finishes the merge a state file describes (a run that crashed, or XO's own two-file merge). */
export async function resumeVhdMerge(
  remote: Remote,
  folderKey: string,
  stateName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  requireInPlaceMerge(remote);
  const stateKey = joinKey(folderKey, stateName);
  const state = await readMergeState(remote, stateKey);
  if (!state) {
    const where = remote.displayPath(stateKey);
    throw new SluiceError('NOT_FOUND', `No merge state ${where}.`, { context: { remote: where } });
  }
  return runMerge(stateFiles(remote, folderKey, stateKey, state), state, true, opts);
}

/** The files a state file names, relative to its folder: only their names count, so it never reaches outside. */
function stateFiles(remote: Remote, folderKey: string, stateKey: string, state: MergeState): MergeFiles {
  if (state.chain.length !== 2) {
    const where = remote.displayPath(stateKey);
    throw new SluiceError(
      'REMOTE_ERROR',
      `The unfinished merge ${where} spans ${state.chain.length} files (Xen Orchestra merges several at once); Sluice resumes two-file merges only.`,
      {
        hint: 'Let Xen Orchestra finish it (run its backup job or "check" the remote there); the chain is intact meanwhile.',
        context: { remote: where, phase: 'merge' },
      },
    );
  }
  return {
    remote,
    folderKey,
    parent: joinKey(folderKey, path.posix.basename(state.chain[0]!)),
    child: joinKey(folderKey, path.posix.basename(state.chain[1]!)),
    state: stateKey,
  };
}

async function runMerge(
  files: MergeFiles,
  state: MergeState,
  resumed: boolean,
  opts: VhdMergeOptions,
): Promise<VhdMergeResult> {
  const { remote } = files;
  const progress: VhdMergeProgress = { blocksDone: 0, blocksTotal: 0, bytesRead: 0, bytesWritten: 0, bytesTotal: 0 };
  if (state.step === 'mergeBlocks') {
    await mergeAllBlocks(files, state, resumed, progress, opts);
    state.step = 'cleanupVhds';
    await writeMergeState(remote, files.state, state).catch((err) => {
      throw describeFsError(err, shown(files, files.state), 'write the merge state');
    });
  }
  const [parentPath, childPath, statePath] = [
    shown(files, files.parent),
    shown(files, files.child),
    shown(files, files.state),
  ];
  const renamed = (await remote.stat(files.parent)) === undefined;
  if (!renamed) {
    // The child's digests describe the child, which the rename replaces: they go first (a crash between the
    // two leaves the child without digests, never with wrong ones).
    await remote.delete(digestsPathOf(files.child));
    await remote.rename(files.parent, files.child, { replace: true }).catch((err) => {
      throw describeFsError(err, parentPath, 'rename the merged VHD to');
    });
  } else if ((await headerChecksumAt(remote, files.child).catch(() => -1)) !== state.parent.header) {
    // Renamed before a crash: the child's name must then hold the merged file (the parent's header).
    throw new VhdChainError(
      parentPath,
      `${parentPath} is gone and ${childPath} is not the merged file the unfinished merge ${statePath} made: refusing to finish it`,
    );
  }
  await finishMergedDigests(remote, files.parent, files.child).catch((err) => {
    throw describeFsError(err, shown(files, digestsPathOf(files.child)), 'move the block digests to');
  });
  await remote.syncFolder(files.folderKey);
  await removeMergeState(remote, files.state);
  return { ...progress, path: childPath, resumed };
}

/** The block phase and the new identity, then the merged file's digests (vhd-merge-blocks.ts has the batches). */
async function mergeAllBlocks(
  files: MergeFiles,
  state: MergeState,
  resumed: boolean,
  progress: VhdMergeProgress,
  opts: VhdMergeOptions,
): Promise<void> {
  const { remote } = files;
  let digests: MergedDigests | string;
  const parent = await openMergeTarget(files, state.parent.header, resumed);
  try {
    const child = await openVhdFile(remote, files.child);
    try {
      if ((await headerChecksumAt(remote, files.child)) !== state.child.header) {
        throw new VhdChainError(
          child.path,
          `${child.path} is not the file the unfinished merge ${shown(files, files.state)} started on (its header changed): refusing to resume`,
        );
      }
      digests = await startMergedDigests(remote, files.parent, child.blockCount).catch((err) => {
        throw describeFsError(err, shown(files, digestsPathOf(files.parent)), 'remove the block digests of');
      });
      const stateFile = {
        write: (s: MergeState) => writeMergeState(remote, files.state, s),
        shown: shown(files, files.state),
      };
      await mergeBlocks(parent, child, state, stateFile, progress, opts, {
        merged: digests,
        child: await loadDigests(remote, files.child, child),
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
  await writeMergedDigests(remote, files.parent, digests).catch((err) => {
    throw describeFsError(err, shown(files, digestsPathOf(files.parent)), 'write the block digests of');
  });
}

/**
 * A fresh merge opened the file strictly before; a resumed one may find the trailing footer overwritten by a
 * block the crash cut short (or by a merge Xen Orchestra started), so it trusts the copy at byte 0.
 */
async function openMergeTarget(
  files: MergeFiles,
  expectedHeaderChecksum: number,
  resumed: boolean,
): Promise<VhdDynamicFile> {
  const file = shown(files, files.parent);
  const raf = await files.remote.openUpdate(files.parent).catch((err) => {
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

/** Merging rewrites a VHD in place and renames it: a remote that cannot merges VHD directories instead. */
function requireInPlaceMerge(remote: Remote): void {
  if (remote.capabilities.inPlaceUpdate && remote.capabilities.rename) return;
  throw new SluiceError('REMOTE_ERROR', `Merging VHD files on ${remote.label} is not supported yet.`, {
    hint: 'Keep incremental backups on a folder remote for now; nothing was changed.',
    context: { remote: remote.label },
  });
}
