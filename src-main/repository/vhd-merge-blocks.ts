import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import {
  digestsPathOf,
  type DigestsState,
  type VhdDigestCollector,
  type VhdDigests,
} from '../formats/vhd/vhd-block-digests.js';
import type { VhdDynamicFile } from '../formats/vhd/vhd-dynamic-file.js';
import type { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { SECTOR } from '../formats/vhd/vhd-structures.js';
import { refuseDamagedMerge, type MergedDigests } from './merge-digests.js';
import type { MergeState } from './merge-state.js';
import { blockMismatch } from './point-disk-readers.js';

// The block phase of a merge (vhd-merge.ts has the whole order): the child's blocks go into the parent in
// batches, each made durable before the state file moves past it.

export interface VhdMergeProgress {
  blocksDone: number;
  blocksTotal: number;
  /** Bytes read from the two files and written to the parent (blocks, bitmaps, BAT, footers). */
  bytesRead: number;
  bytesWritten: number;
  /** Child block bytes (bitmap + data) to merge in all: the progress bar's total. */
  bytesTotal: number;
}

export interface VhdMergeOptions {
  /** Blocks per durable step (default 32: 64 MiB of 2 MiB blocks between two state writes). */
  batchBlocks?: number;
  onProgress?: (p: VhdMergeProgress) => void;
  /** Called after each durable batch (the state file is written); a test stops the process here. */
  afterBatch?: (p: VhdMergeProgress) => void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * Merges the child's blocks from state.currentBlock on, writing the state after each batch; blocks an earlier
 * run merged are read back for their digests.
 */
export async function mergeBlocks(
  parent: VhdDynamicFile,
  child: VhdFileReader,
  state: MergeState,
  stateFile: { write: (state: MergeState) => Promise<void>; shown: string },
  progress: VhdMergeProgress,
  opts: VhdMergeOptions,
  digests: { merged: MergedDigests | string; child: DigestsState },
): Promise<void> {
  refuseDamagedMerge(digests.child, child.path);
  const blockBytes = child.storedBlockBytes;
  const all: number[] = [];
  for (let i = 0; i < child.blockCount; i++) if (child.hasBlock(i)) all.push(i);
  progress.blocksTotal = all.length;
  progress.bytesTotal = all.length * blockBytes;
  const todo = all.filter((i) => i >= state.currentBlock);
  progress.blocksDone = all.length - todo.length;
  const run: BatchRun = {
    parent,
    child,
    progress,
    opts,
    childBytesRead: 0,
    collector: typeof digests.merged === 'string' ? undefined : digests.merged.collector,
    childDigests: digests.child.kind === 'current' ? digests.child.digests : undefined,
  };
  if (run.collector) {
    // Merged by an earlier run: their digests died with it, so they are taken from the bytes on disk.
    for (const index of all.filter((i) => i < state.currentBlock)) {
      const stored = await parent.readBlock(index);
      run.collector.addBlock(index, stored.bitmap, stored.data);
    }
  }
  tally(run);
  opts.onProgress?.({ ...progress });
  const batch = Math.max(1, opts.batchBlocks ?? 32);
  for (let start = 0; start < todo.length; start += batch) {
    if (opts.signal?.aborted) {
      throw new SluiceError(
        'CANCELLED',
        'The merge was cancelled; it resumes where it stopped on the next run, and the chain is intact meanwhile.',
        { context: { remote: parent.name, phase: 'merge' } },
      );
    }
    const indexes = todo.slice(start, start + batch);
    await mergeBatch(run, indexes);
    const next = todo[start + batch] ?? child.blockCount;
    state.currentBlock = next;
    state.mergedDataSize += indexes.length * blockBytes;
    await stateFile.write(state).catch((err) => {
      throw describeFsError(err, stateFile.shown, 'write the merge state');
    });
    await opts.afterBatch?.({ ...progress });
  }
}

interface BatchRun {
  parent: VhdDynamicFile;
  child: VhdFileReader;
  progress: VhdMergeProgress;
  opts: VhdMergeOptions;
  childBytesRead: number;
  collector: VhdDigestCollector | undefined;
  childDigests: VhdDigests | undefined;
}

/** Progress as the two files count their bytes: the child's reads here, the parent's its own. */
function tally(run: BatchRun): void {
  run.progress.bytesRead = run.childBytesRead + run.parent.bytesRead;
  run.progress.bytesWritten = run.parent.bytesWritten;
}

/** One durable step: room for the appends, the blocks, then footer and BAT; undone to a valid file on failure. */
async function mergeBatch(run: BatchRun, indexes: number[]): Promise<void> {
  const { parent, child, progress } = run;
  const blockBytes = child.storedBlockBytes;
  const committedEnd = parent.dataEnd;
  try {
    const appends = indexes.filter((i) => !parent.hasBlock(i)).length * blockBytes;
    if (appends > 0) {
      // The trailing footer moves past the room the new blocks will take, durably, before any block is
      // written there: the file ends with a valid footer at every instant, so the chain stays readable even
      // if the process dies in the middle of an append.
      await parent.writeFooterAt(parent.dataEnd + appends);
      await parent.sync();
    }
    for (const index of indexes) {
      const stored = (await child.readBlock(index))!;
      run.childBytesRead += blockBytes;
      if (run.childDigests && !run.childDigests.blockMatches(index, stored.bitmap, stored.data))
        throw damagedChildBlock(child, index, parent.name);
      const written = await parent.mergeBlock(index, stored.bitmap, stored.data);
      run.collector?.addBlock(index, written.bitmap, written.data);
      progress.blocksDone++;
      tally(run);
      run.opts.onProgress?.({ ...progress });
    }
    // Durable in this order: footer at the new end, then the BAT entries that changed.
    await parent.writeTrailingFooter();
    await parent.sync();
    if (await parent.writeChangedBat()) await parent.sync();
    tally(run);
  } catch (err) {
    // Leave a valid file (footer back at the last durable end); the state still points at this batch.
    await rollbackTo(parent, committedEnd).catch(() => {});
    throw describeFsError(err, parent.name, 'merge into');
  }
}

async function rollbackTo(parent: VhdDynamicFile, end: number): Promise<void> {
  parent.dataEnd = end;
  await parent.writeTrailingFooter();
  await parent.sync();
}

function damagedChildBlock(child: VhdFileReader, index: number, parentPath: string): SluiceError {
  const at = child.bat[index]! * SECTOR;
  return new SluiceError(
    'REMOTE_ERROR',
    `${child.path}: block ${index} (byte ${at}) ${blockMismatch(child.path)}, so it is not merged into ${parentPath}.`,
    {
      hint: 'The points using this file are damaged (`sluice verify` names them); the chain is otherwise intact. Keep these points and start a new chain with a full backup.',
      context: { file: child.path, block: String(index), checksumFile: digestsPathOf(child.path), phase: 'merge' },
      damage: { kind: 'block', offset: at, file: child.path },
    },
  );
}
