import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { overlayMarkedSectors, allSectorsMarked } from '../formats/vhd/vhd-bitmap.js';
import {
  BAT_NAME,
  blockObjectName,
  encodeDirectoryBat,
  FOOTER_NAME,
  isAliasName,
} from '../formats/vhd/vhd-directory.js';
import { VhdDirectoryReader } from '../formats/vhd/vhd-directory-reader.js';
import { VhdChainError } from '../formats/vhd/vhd-errors.js';
import { DiskType, encodeFooter, SECTOR } from '../formats/vhd/vhd-structures.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { mergeStateKey, readMergeState, removeMergeState, writeMergeState, type MergeState } from './merge-state.js';
import { baseName, parentKey } from './repository-keys.js';
import {
  aliasDirectory,
  deleteDirectory,
  directoryExists,
  remoteDirectoryStore,
  resolveAlias,
} from './vhd-directory-files.js';
import type { VhdMergeOptions, VhdMergeProgress } from './vhd-merge-blocks.js';
import type { VhdMergeResult } from './vhd-merge.js';

// Merges a child VHD directory into its parent directory, as Xen Orchestra does on object storage: only the
// child's block objects are copied into the parent's directory (a block object as stored, when both use the
// same filter: no decoding), then the parent's bat and footer are rewritten and the child's alias is made to
// name the parent's directory. Nothing of the disk is copied whole, and nothing needs rename or in-place
// updates, so it runs on object storage as on folders.
//
// Why it is safe at every instant: the child's blocks stay where they are until the very end, so the chain
// [parent, child] reads the same throughout (a parent block replaced early is still covered by the child's);
// the parent's bat gains a block only once its object is written; the state file (XO's `.<parent>.merge.json`,
// with `currentBlock` moving forward only after the bat says so) lets a run that died go on where it was.
// Order: blocks (batch by batch: objects → bat → state) → footer with the child's identity → step
// "cleanupVhds" → the child's alias names the parent's directory → parent's alias removed → child's old
// directory removed → state removed. A resume finds where it is from which alias names which directory.
//
// State fields beyond XO's: `parentData`, `childData` (the directories, relative to the folder), so a resume
// after the alias swap still knows the child's old directory. XO's own state lacks them; a resume of XO's
// merge (which moves blocks instead of copying) accepts a child block already gone when the parent holds it.

interface DirectoryMergeState extends MergeState {
  parentData?: string;
  childData?: string;
}

interface MergePair {
  remote: Remote;
  folderKey: string;
  parentAlias: string;
  childAlias: string;
  stateKey: string;
}

export function isDirectoryMerge(parentName: string, childName: string): boolean {
  return isAliasName(parentName) && isAliasName(childName);
}

/** Merges `childName` into `parentName`, two aliases of the folder `folderKey`; resumes an unfinished merge. */
export async function mergeVhdDirectoryIntoParent(
  remote: Remote,
  folderKey: string,
  parentName: string,
  childName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  const pair: MergePair = {
    remote,
    folderKey,
    parentAlias: joinKey(folderKey, parentName),
    childAlias: joinKey(folderKey, childName),
    stateKey: mergeStateKey(folderKey, parentName),
  };
  const existing = (await readMergeState(remote, pair.stateKey)) as DirectoryMergeState | undefined;
  if (existing) return runMerge(pair, existing, true, opts);
  const parentDir = await aliasDirectory(remote, pair.parentAlias);
  const childDir = await aliasDirectory(remote, pair.childAlias);
  const parent = await VhdDirectoryReader.open(remoteDirectoryStore(remote, parentDir));
  const child = await VhdDirectoryReader.open(remoteDirectoryStore(remote, childDir));
  checkMergeable(parent, child, pair);
  const state: DirectoryMergeState = {
    chain: [parentName, childName],
    parent: { header: parent.headerChecksum },
    child: { header: child.headerChecksum },
    currentBlock: 0,
    mergedDataSize: 0,
    step: 'mergeBlocks',
    parentData: relativeTo(folderKey, parentDir),
    childData: relativeTo(folderKey, childDir),
  };
  await saveState(pair, state);
  return runMerge(pair, state, false, opts);
}

/** Finishes the directory merge a state file describes. */
export async function resumeVhdDirectoryMerge(
  remote: Remote,
  folderKey: string,
  stateName: string,
  opts: VhdMergeOptions = {},
): Promise<VhdMergeResult> {
  const stateKey = joinKey(folderKey, stateName);
  const state = (await readMergeState(remote, stateKey)) as DirectoryMergeState | undefined;
  if (!state) {
    const where = remote.displayPath(stateKey);
    throw new SluiceError('NOT_FOUND', `No merge state ${where}.`, { context: { remote: where } });
  }
  if (state.chain.length !== 2) {
    const where = remote.displayPath(stateKey);
    throw new SluiceError(
      'REMOTE_ERROR',
      `The unfinished merge ${where} spans ${state.chain.length} VHDs (Xen Orchestra merges several at once); Sluice resumes two-VHD merges only.`,
      {
        hint: 'Let Xen Orchestra finish it (run its backup job or "check" the remote there); the chain is intact meanwhile.',
        context: { remote: where, phase: 'merge' },
      },
    );
  }
  const pair: MergePair = {
    remote,
    folderKey,
    // Only the names count: a state file never leads outside its folder.
    parentAlias: joinKey(folderKey, path.posix.basename(state.chain[0]!)),
    childAlias: joinKey(folderKey, path.posix.basename(state.chain[1]!)),
    stateKey,
  };
  return runMerge(pair, state, true, opts);
}

function checkMergeable(parent: VhdDirectoryReader, child: VhdDirectoryReader, pair: MergePair): void {
  const [p, c] = [parent.path, child.path];
  if (child.footer.diskType !== DiskType.Differencing)
    throw new VhdChainError(c, `${c} is a full VHD: there is nothing to merge it into`);
  if (child.header.parentUuid !== parent.footer.uuid)
    throw new VhdChainError(
      c,
      `${c} is a child of VHD ${child.header.parentUuid}, not of ${p} (VHD ${parent.footer.uuid}): refusing to merge`,
    );
  if (child.header.blockSize !== parent.header.blockSize)
    throw new VhdChainError(c, `${c} and ${p} use different block sizes: refusing to merge`);
  if (child.blockCount > parent.header.maxTableEntries) {
    throw new SluiceError(
      'REMOTE_ERROR',
      `The disk grew from ${parent.footer.currentSize} to ${child.footer.currentSize} bytes between ${baseName(pair.parentAlias)} and ${baseName(pair.childAlias)}; Sluice cannot merge such a chain yet.`,
      {
        hint: 'Keep these points (raise retention) or start a new chain with a full backup; the existing points stay restorable.',
        context: { remote: c, phase: 'merge' },
      },
    );
  }
}

async function runMerge(
  pair: MergePair,
  state: DirectoryMergeState,
  resumed: boolean,
  opts: VhdMergeOptions,
): Promise<VhdMergeResult> {
  const { remote } = pair;
  const progress: VhdMergeProgress = { blocksDone: 0, blocksTotal: 0, bytesRead: 0, bytesWritten: 0, bytesTotal: 0 };
  if (state.step === 'mergeBlocks') {
    const parentDir = await dataOf(pair, pair.parentAlias, state.parentData);
    const childDir = await dataOf(pair, pair.childAlias, state.childData);
    state.parentData ??= relativeTo(pair.folderKey, parentDir);
    state.childData ??= relativeTo(pair.folderKey, childDir);
    const parent = await VhdDirectoryReader.open(remoteDirectoryStore(remote, parentDir));
    const child = await VhdDirectoryReader.open(remoteDirectoryStore(remote, childDir));
    if (parent.headerChecksum !== state.parent.header || child.headerChecksum !== state.child.header) {
      throw new VhdChainError(
        child.path,
        `${parent.path} or ${child.path} is not the VHD the unfinished merge ${remote.displayPath(pair.stateKey)} started on (a header changed): refusing to resume`,
      );
    }
    await mergeBlocks(pair, parent, child, state, resumed, progress, opts);
    // The merged directory stands for the child's point now: its uuid, size and time.
    const f = child.footer;
    const footer = encodeFooter({
      currentSize: f.currentSize,
      originalSize: f.originalSize,
      diskType: parent.footer.diskType,
      uuid: f.uuid,
      timestamp: f.timestamp,
      creatorApp: parent.footer.creatorApp,
      creatorVersion: parent.footer.creatorVersion,
      creatorHostOs: parent.footer.creatorHostOs,
      geometry: f.geometry,
      dataOffset: parent.footer.dataOffset,
    });
    const storedFooter = await parent.filter.encode(footer);
    await write(pair, () => parent.objects.overwrite(FOOTER_NAME, storedFooter), parent.path);
    state.step = 'cleanupVhds';
    await saveState(pair, state);
  }
  await cleanup(pair, state);
  return { ...progress, path: remote.displayPath(pair.childAlias), resumed };
}

/** A directory an alias names, or (once the alias is gone or swapped) the one the state recorded. */
async function dataOf(pair: MergePair, aliasKey: string, recorded: string | undefined): Promise<string> {
  if (recorded !== undefined) {
    const key = confinedData(pair, recorded);
    if (await directoryExists(pair.remote, key)) return key;
  }
  return aliasDirectory(pair.remote, aliasKey);
}

function confinedData(pair: MergePair, relative: string): string {
  // The state file is the repository's: its directory names are resolved as an alias's would be.
  const resolved = path.posix.normalize(path.posix.join(pair.folderKey, relative));
  if (!resolved.startsWith(`${pair.folderKey}/`))
    throw new SluiceError(
      'REMOTE_ERROR',
      `The merge state ${pair.remote.displayPath(pair.stateKey)} names "${relative}", outside its folder: refusing to use it.`,
      { context: { remote: pair.remote.displayPath(pair.stateKey) }, damage: { kind: 'path', file: relative } },
    );
  return resolved;
}

async function mergeBlocks(
  pair: MergePair,
  parent: VhdDirectoryReader,
  child: VhdDirectoryReader,
  state: DirectoryMergeState,
  resumed: boolean,
  progress: VhdMergeProgress,
  opts: VhdMergeOptions,
): Promise<void> {
  const todo = child.storedBlocks().filter((i) => i >= state.currentBlock);
  const batch = Math.max(1, opts.batchBlocks ?? 32);
  const present = parent.present;
  const sameFilter = parent.filter.id === child.filter.id;
  const sectors = child.header.blockSize / SECTOR;
  progress.blocksTotal = child.storedBlocks().length;
  progress.blocksDone = progress.blocksTotal - todo.length;
  progress.bytesTotal = progress.blocksTotal * child.storedBlockBytes;
  opts.onProgress?.({ ...progress });
  for (let at = 0; at < todo.length; at += batch) {
    opts.signal?.throwIfAborted();
    const slice = todo.slice(at, at + batch);
    for (const index of slice) {
      const name = blockObjectName(index);
      const stored = await child.readStoredObject(index).catch((err: unknown) => {
        // XO's own merge moves blocks: resuming it, a block already moved is in the parent and not here.
        if (resumed && present[index] === 1) return undefined;
        throw err;
      });
      if (stored === undefined) continue;
      progress.bytesRead += stored.length;
      const theirs = await child.decodeObject(index, stored);
      let out: Buffer = stored;
      if (!allSectorsMarked(theirs.bitmap, sectors) && present[index] === 1) {
        // A child block that marks only some sectors is laid over the parent's own: the parent's others stay.
        const mine = (await parent.readBlock(index))!;
        const under = { bitmap: Buffer.from(mine.bitmap), data: Buffer.from(mine.data) };
        overlayMarkedSectors(under, theirs.bitmap, theirs.data, sectors);
        out = await parent.filter.encode(Buffer.concat([under.bitmap, under.data]));
      } else if (!sameFilter) {
        out = await parent.filter.encode(Buffer.concat([theirs.bitmap, theirs.data]));
      }
      await write(pair, () => parent.objects.overwrite(name, out), `${parent.path}/${name}`);
      progress.bytesWritten += out.length;
      state.mergedDataSize += present[index] === 1 ? 0 : child.storedBlockBytes;
      present[index] = 1;
    }
    // Only now does the parent's table name the new blocks, and only then does the state move past them.
    const bat = await parent.filter.encode(encodeDirectoryBat(present, parent.header.maxTableEntries));
    await write(pair, () => parent.objects.overwrite(BAT_NAME, bat), `${parent.path}/${BAT_NAME}`);
    const next = todo[at + batch];
    state.currentBlock = next ?? child.header.maxTableEntries;
    await saveState(pair, state);
    progress.blocksDone += slice.length;
    opts.onProgress?.({ ...progress });
    await opts.afterBatch?.({ ...progress });
  }
}

/** The alias swap and the removals, each step found done or done now (so a resume can start anywhere). */
async function cleanup(pair: MergePair, state: DirectoryMergeState): Promise<void> {
  const { remote } = pair;
  const parentAliasThere = (await remote.stat(pair.parentAlias)) !== undefined;
  const parentDirKey = state.parentData
    ? confinedData(pair, state.parentData)
    : parentAliasThere
      ? (await resolveAlias(remote, pair.parentAlias)).dirKey
      : (await resolveAlias(remote, pair.childAlias)).dirKey;
  const childNow = await resolveAlias(remote, pair.childAlias).catch(() => undefined);
  if (childNow?.dirKey !== parentDirKey) {
    // Not swapped yet: the parent's directory must be the merged one (its header as the state recorded).
    const merged = await VhdDirectoryReader.open(remoteDirectoryStore(remote, parentDirKey));
    if (merged.headerChecksum !== state.parent.header) {
      throw new VhdChainError(
        merged.path,
        `${merged.path} is not the merged VHD the unfinished merge ${remote.displayPath(pair.stateKey)} made: refusing to finish it`,
      );
    }
    await write(
      pair,
      () => remote.overwrite(pair.childAlias, relativeTo(parentKey(pair.childAlias), parentDirKey)),
      remote.displayPath(pair.childAlias),
    );
  }
  if (parentAliasThere) await remote.delete(pair.parentAlias);
  const oldChild = state.childData ? confinedData(pair, state.childData) : childNow?.dirKey;
  if (oldChild !== undefined && oldChild !== parentDirKey && (await directoryExists(remote, oldChild)))
    await deleteDirectory(remote, oldChild);
  await remote.syncFolder(pair.folderKey);
  await removeMergeState(remote, pair.stateKey);
}

function relativeTo(folderKey: string, key: string): string {
  return path.posix.relative(folderKey, key);
}

async function write(pair: MergePair, op: () => Promise<void>, what: string): Promise<void> {
  await op().catch((err: unknown) => {
    throw err instanceof SluiceError ? err : describeFsError(err, what, 'write');
  });
}

async function saveState(pair: MergePair, state: DirectoryMergeState): Promise<void> {
  await writeMergeState(pair.remote, pair.stateKey, state).catch((err: unknown) => {
    throw describeFsError(err, pair.remote.displayPath(pair.stateKey), 'write the merge state');
  });
}
