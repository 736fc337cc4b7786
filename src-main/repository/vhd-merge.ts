import { promises as fs } from 'node:fs';
import { digestsPathOf, loadDigests, type DigestsState } from '../formats/vhd/vhd-block-digests.js';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { VhdChainError, VhdFormatError } from '../formats/vhd/vhd-errors.js';
import { readAt, VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  decodeBat,
  decodeFooter,
  decodeHeader,
  DiskType,
  encodeBat,
  encodeFooter,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  type VhdFooter,
  type VhdHeader,
} from '../formats/vhd/vhd-structures.js';
import { describeFsError } from '../errors/fs-errors.js';
import { syncDir } from '../core/atomic-file.js';
import {
  finishMergedDigests,
  setAsideParentDigests,
  startMergedDigests,
  writeMergedDigests,
  type MergedDigests,
} from './merge-digests.js';
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
    parent: { header: await headerChecksum(parentPath) },
    child: { header: await headerChecksum(childPath) },
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
    const parent = await MergeTarget.open(parentPath, state.parent.header, resumed);
    try {
      const child = await VhdFileReader.open(childPath);
      try {
        if ((await headerChecksum(childPath)) !== state.child.header) {
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
        await parent.adoptIdentity(child.footer);
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
  } else if ((await headerChecksum(childPath).catch(() => -1)) !== state.parent.header) {
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

async function mergeBlocks(
  parent: MergeTarget,
  child: VhdFileReader,
  state: MergeState,
  statePath: string,
  progress: VhdMergeProgress,
  opts: VhdMergeOptions,
  digests: { merged: MergedDigests | string; child: DigestsState },
): Promise<void> {
  const blockBytes = bitmapSize(child.header.blockSize) + child.header.blockSize;
  const all: number[] = [];
  for (let i = 0; i < child.blockCount; i++) if (child.hasBlock(i)) all.push(i);
  progress.blocksTotal = all.length;
  progress.bytesTotal = all.length * blockBytes;
  const todo = all.filter((i) => i >= state.currentBlock);
  progress.blocksDone = all.length - todo.length;
  const collector = typeof digests.merged === 'string' ? undefined : digests.merged.collector;
  if (collector) {
    // Merged by an earlier run: their digests died with it, so they are taken from the bytes on disk.
    for (const index of all.filter((i) => i < state.currentBlock)) {
      const stored = await parent.readStoredBlock(index);
      progress.bytesRead += blockBytes;
      collector.addBlock(index, stored.bitmap, stored.data);
    }
  }
  const childDigests = digests.child.kind === 'current' ? digests.child.digests : undefined;
  opts.onProgress?.({ ...progress });
  const batch = Math.max(1, opts.batchBlocks ?? 32);
  for (let start = 0; start < todo.length; start += batch) {
    if (opts.signal?.aborted) {
      throw new SluiceError(
        'CANCELLED',
        'The merge was cancelled; it resumes where it stopped on the next run, and the chain is intact meanwhile.',
        { context: { remote: parent.path, phase: 'merge' } },
      );
    }
    const indexes = todo.slice(start, start + batch);
    const committedEnd = parent.dataEnd;
    try {
      await parent.reserveAppends(indexes.filter((i) => !parent.hasBlock(i)).length * blockBytes, progress);
      for (const index of indexes) {
        const stored = (await child.readBlock(index))!;
        progress.bytesRead += blockBytes;
        if (childDigests && !childDigests.blockMatches(index, stored.bitmap, stored.data))
          throw damagedChildBlock(child, index, parent.path);
        const written = await parent.mergeBlock(index, stored.bitmap, stored.data, progress);
        collector?.addBlock(index, written.bitmap, written.data);
        progress.blocksDone++;
        opts.onProgress?.({ ...progress });
      }
      await parent.commitBatch(progress);
    } catch (err) {
      // Leave a valid file (footer back at the last durable end); the state still points at this batch.
      await parent.rollbackTo(committedEnd).catch(() => {});
      throw describeFsError(err, parent.path, 'merge into');
    }
    const next = todo[start + batch] ?? child.blockCount;
    state.currentBlock = next;
    state.mergedDataSize += indexes.length * blockBytes;
    await writeMergeState(statePath, state).catch((err) => {
      throw describeFsError(err, statePath, 'write the merge state');
    });
    await opts.afterBatch?.({ ...progress });
  }
}

/** The parent file opened for writing, with its BAT in memory and where its data ends. */
class MergeTarget {
  private dirtyLow = Infinity;
  private dirtyHigh = -1;

  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    private footer: VhdFooter,
    private footerRaw: Buffer,
    private readonly header: VhdHeader,
    private readonly bat: Uint32Array,
    public dataEnd: number,
  ) {}

  /**
   * A fresh merge opened the file strictly before; a resumed one may find the trailing footer overwritten by a
   * block the crash cut short, so it trusts the copy at byte 0 (which only the final step rewrites).
   */
  static async open(file: string, expectedHeaderChecksum: number, resumed: boolean): Promise<MergeTarget> {
    const handle = await fs.open(file, 'r+').catch((err) => {
      throw describeFsError(err, file, 'open for merging');
    });
    try {
      const { size } = await handle.stat();
      const where = (offset: number) => ({ offset, source: file });
      // The trailing footer is authoritative and stays valid through our merges; a merge Xen Orchestra started
      // may have overwritten it with a block, and then the copy at byte 0 holds (only the last step rewrites it).
      let footerAt = size - FOOTER_SIZE;
      let footerRaw = await readAt(handle, footerAt, FOOTER_SIZE, file);
      let footer: VhdFooter;
      try {
        footer = decodeFooter(footerRaw, where(footerAt));
      } catch (err) {
        if (!resumed) throw err;
        footerAt = 0;
        footerRaw = await readAt(handle, 0, FOOTER_SIZE, file);
        footer = decodeFooter(footerRaw, where(0));
      }
      if (!footerRaw.equals(await readAt(handle, 0, FOOTER_SIZE, file))) {
        await writeExactly(handle, [footerRaw], 0);
        await handle.sync();
      }
      const headerRaw = await readAt(handle, footer.dataOffset, HEADER_SIZE, file);
      const header = decodeHeader(headerRaw, where(footer.dataOffset));
      if (headerRaw.readUInt32BE(36) !== expectedHeaderChecksum) {
        throw new VhdChainError(
          file,
          `${file} is not the file the merge started on (its header changed): refusing to write into it`,
        );
      }
      const bat = decodeBat(
        await readAt(handle, header.tableOffset, batSize(header.maxTableEntries), file),
        header.maxTableEntries,
      );
      const blockBytes = bitmapSize(header.blockSize) + header.blockSize;
      let end = Math.max(header.tableOffset + batSize(header.maxTableEntries), footer.dataOffset + HEADER_SIZE);
      for (const l of header.parentLocators) end = Math.max(end, l.dataOffset + l.dataSpace);
      for (let i = 0; i < bat.length; i++) {
        if (bat[i] === BAT_ABSENT) continue;
        const at = bat[i]! * SECTOR;
        if (at + blockBytes > size)
          throw new VhdFormatError(
            'bat',
            `BAT entry of block ${i} points past the end of the file`,
            where(header.tableOffset + i * 4),
          );
        end = Math.max(end, at + blockBytes);
      }
      return new MergeTarget(file, handle, footer, footerRaw, header, bat, Math.ceil(end / SECTOR) * SECTOR);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  hasBlock(index: number): boolean {
    return this.bat[index] !== BAT_ABSENT;
  }

  /**
   * Moves the trailing footer past the room the batch's new blocks will take, durably, before any block is
   * written there: the file ends with a valid footer at every instant, so the chain stays readable even if
   * the process dies in the middle of an append.
   */
  async reserveAppends(bytes: number, progress: VhdMergeProgress): Promise<void> {
    if (bytes === 0) return;
    await writeExactly(this.handle, [this.footerRaw], this.dataEnd + bytes);
    progress.bytesWritten += FOOTER_SIZE;
    await this.handle.sync();
  }

  /** A block as it is on disk (after the BAT names it). */
  async readStoredBlock(index: number): Promise<{ bitmap: Buffer; data: Buffer }> {
    const bitmapBytes = bitmapSize(this.header.blockSize);
    const buf = await readAt(this.handle, this.bat[index]! * SECTOR, bitmapBytes + this.header.blockSize, this.path);
    return { bitmap: buf.subarray(0, bitmapBytes), data: buf.subarray(bitmapBytes) };
  }

  /** Writes the child's block into the parent; returns the bytes written there (what the block now holds). */
  async mergeBlock(
    index: number,
    bitmap: Buffer,
    data: Buffer,
    progress: VhdMergeProgress,
  ): Promise<{ bitmap: Buffer; data: Buffer }> {
    const bitmapBytes = bitmap.length;
    const sectors = this.header.blockSize / SECTOR;
    const existing = this.bat[index]!;
    if (existing === BAT_ABSENT) {
      const at = this.dataEnd;
      // Sectors the child does not mark may hold anything; in a dynamic file some readers (qemu) ignore the
      // bitmap, so they are stored as the zeros they stand for.
      if (!allMarked(bitmap, sectors)) {
        data = Buffer.from(data);
        for (let s = 0; s < sectors; s++) if (!marked(bitmap, s)) data.fill(0, s * SECTOR, (s + 1) * SECTOR);
      }
      await writeExactly(this.handle, [bitmap, data], at);
      progress.bytesWritten += bitmapBytes + data.length;
      this.bat[index] = at / SECTOR;
      this.dataEnd = at + bitmapBytes + data.length;
      this.dirtyLow = Math.min(this.dirtyLow, index);
      this.dirtyHigh = Math.max(this.dirtyHigh, index);
      return { bitmap, data };
    }
    const at = existing * SECTOR;
    if (allMarked(bitmap, sectors)) {
      await writeExactly(this.handle, [bitmap, data], at);
      progress.bytesWritten += bitmapBytes + data.length;
      return { bitmap, data };
    }
    // A partial child block: only the sectors it marks replace the parent's; the bitmaps are OR-ed.
    const own = await readAt(this.handle, at, bitmapBytes + this.header.blockSize, this.path);
    progress.bytesRead += own.length;
    for (let s = 0; s < sectors; s++) {
      if (!marked(bitmap, s)) continue;
      data.copy(own, bitmapBytes + s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
    }
    for (let b = 0; b < bitmapBytes; b++) own[b]! |= bitmap[b]!;
    await writeExactly(this.handle, [own], at);
    progress.bytesWritten += own.length;
    return { bitmap: own.subarray(0, bitmapBytes), data: own.subarray(bitmapBytes) };
  }

  /** Makes the batch durable: footer at the new end, then the BAT entries that changed. */
  async commitBatch(progress: VhdMergeProgress): Promise<void> {
    await this.writeTrailingFooter(progress);
    await this.handle.sync();
    if (this.dirtyHigh >= 0) {
      const perSector = SECTOR / 4;
      const firstSector = Math.floor(this.dirtyLow / perSector);
      const lastSector = Math.floor(this.dirtyHigh / perSector);
      const table = encodeBat(this.bat).subarray(firstSector * SECTOR, (lastSector + 1) * SECTOR);
      await writeExactly(this.handle, [table], this.header.tableOffset + firstSector * SECTOR);
      progress.bytesWritten += table.length;
      await this.handle.sync();
      this.dirtyLow = Infinity;
      this.dirtyHigh = -1;
    }
  }

  /** After a failed batch: the footer goes back to where the durable BAT says the data ends. */
  async rollbackTo(end: number): Promise<void> {
    this.dataEnd = end;
    await writeExactly(this.handle, [this.footerRaw], end);
    await this.handle.truncate(end + FOOTER_SIZE);
    await this.handle.sync();
  }

  /** The merged file stands for the child's point now: its uuid, size and time, at both footer places. */
  async adoptIdentity(child: VhdFooter): Promise<void> {
    this.footerRaw = encodeFooter({
      currentSize: child.currentSize,
      originalSize: child.originalSize,
      geometry: child.geometry,
      timestamp: child.timestamp,
      uuid: child.uuid,
      diskType: this.footer.diskType,
      dataOffset: this.footer.dataOffset,
      creatorApp: this.footer.creatorApp,
      creatorVersion: this.footer.creatorVersion,
      creatorHostOs: this.footer.creatorHostOs,
    });
    this.footer = { ...this.footer, uuid: child.uuid, currentSize: child.currentSize };
    const ignored = { blocksDone: 0, blocksTotal: 0, bytesRead: 0, bytesWritten: 0, bytesTotal: 0 };
    await this.writeTrailingFooter(ignored);
    await writeExactly(this.handle, [this.footerRaw], 0);
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }

  private async writeTrailingFooter(progress: VhdMergeProgress): Promise<void> {
    await writeExactly(this.handle, [this.footerRaw], this.dataEnd);
    await this.handle.truncate(this.dataEnd + FOOTER_SIZE);
    progress.bytesWritten += FOOTER_SIZE;
  }
}

function damagedChildBlock(child: VhdFileReader, index: number, parentPath: string): SluiceError {
  const at = child.bat[index]! * SECTOR;
  return new SluiceError(
    'REMOTE_ERROR',
    `${child.path}: block ${index} (byte ${at}) does not match the checksum recorded when it was written, so it is not merged into ${parentPath}.`,
    {
      hint: 'The points using this file are damaged (`sluice verify` names them); the chain is otherwise intact. Keep these points and start a new chain with a full backup.',
      context: { file: child.path, block: String(index), offset: String(at), damage: 'block', phase: 'merge' },
    },
  );
}

async function headerChecksum(file: string): Promise<number> {
  const h = await fs.open(file, 'r');
  try {
    const footer = decodeFooter(await readAt(h, 0, FOOTER_SIZE, file), { offset: 0, source: file });
    return (await readAt(h, footer.dataOffset + 36, 4, file)).readUInt32BE(0);
  } finally {
    await h.close();
  }
}

async function writeExactly(handle: fs.FileHandle, parts: Buffer[], position: number): Promise<void> {
  const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten === 0) throw new Error('file write made no progress');
    done += bytesWritten;
  }
}

function marked(bitmap: Buffer, sector: number): boolean {
  return ((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 1;
}

function allMarked(bitmap: Buffer, sectors: number): boolean {
  const whole = sectors >> 3;
  for (let i = 0; i < whole; i++) if (bitmap[i] !== 0xff) return false;
  for (let s = whole * 8; s < sectors; s++) if (!marked(bitmap, s)) return false;
  return true;
}
