import { BlockPool } from '../../core/block-pool.js';
import { allSectorsMarked, sectorMarked } from './vhd-bitmap.js';
import { VhdChainError } from './vhd-errors.js';
import type { VhdBlockFile, VhdStoredBlock } from './vhd-block-file.js';
import { VhdFileReader } from './vhd-file-reader.js';
import { DiskType, SECTOR } from './vhd-structures.js';

// Reads the disk an incremental backup point stands for: a full (dynamic) VHD and the differencing VHDs made
// after it, oldest first. Each block comes from the newest file that holds it; within a differencing block
// only the sectors its bitmap marks are its own, the others fall through to older files; what no file holds
// reads as zeros. Links are checked before any data is read: each child must name its parent's footer uuid.

/** Sees every stored block the reader reads, before it is used: a restore checks it against recorded digests. */
export type VhdBlockCheck = (file: VhdBlockFile, index: number, stored: VhdStoredBlock) => void;

export class VhdChainReader {
  /**
   * Where blocks are read into. A consumer that releases each block it got from readBlock/read once it is done
   * with it (the transfer pipeline does, given this pool) recycles a few buffers instead of allocating 2 MiB
   * per block; one that does not simply leaves them to the garbage collector.
   */
  readonly pool: BlockPool;

  private constructor(
    private readonly files: VhdBlockFile[],
    private readonly check: VhdBlockCheck | undefined,
  ) {
    this.pool = new BlockPool(this.newest.storedBlockBytes, 8);
  }

  /** Opens and checks the chain of local files; `paths` go from the full VHD to the newest differencing one. */
  static open(paths: readonly string[], opts: { check?: VhdBlockCheck } = {}): Promise<VhdChainReader> {
    return VhdChainReader.openEach(paths, (p) => VhdFileReader.open(p), opts);
  }

  /** As open, each file opened by `openFile` (through a remote), from the full VHD to the newest. */
  static async openEach<T>(
    items: readonly T[],
    openFile: (item: T) => Promise<VhdBlockFile>,
    opts: { check?: VhdBlockCheck } = {},
  ): Promise<VhdChainReader> {
    if (items.length === 0) throw new RangeError('a VHD chain needs at least one file');
    const files: VhdBlockFile[] = [];
    try {
      for (const item of items) files.push(await openFile(item));
      checkLinks(files);
      return new VhdChainReader(files, opts.check);
    } catch (err) {
      await Promise.all(files.map((f) => f.close()));
      throw err;
    }
  }

  /** The disk size: the newest file's (a disk may have been resized between points). */
  get size(): number {
    return this.newest.footer.currentSize;
  }

  /** The newest file's footer uuid: the snapshot VDI the point was made from. */
  get uuid(): string {
    return this.newest.footer.uuid;
  }

  get blockSize(): number {
    return this.newest.header.blockSize;
  }

  /** The whole disk in block-sized pieces (the last one shorter when the size is not a whole block). */
  async *read(): AsyncGenerator<Buffer> {
    const blockSize = this.blockSize;
    const count = Math.ceil(this.size / blockSize);
    for (let index = 0; index < count; index++) {
      const block = (await this.resolveBlock(index)) ?? Buffer.alloc(blockSize);
      const length = Math.min(blockSize, this.size - index * blockSize);
      yield length === blockSize ? block : block.subarray(0, length);
    }
  }

  /** Indexes of the blocks any file of the chain holds, increasing: the rest of the disk reads as zeros. */
  presentBlocks(): number[] {
    const count = Math.ceil(this.size / this.blockSize);
    const out: number[] = [];
    for (let index = 0; index < count; index++) if (this.files.some((f) => f.hasBlock(index))) out.push(index);
    return out;
  }

  /** Block `index` of the disk as the chain resolves it (a whole block; zeros where no file holds it). */
  async readBlock(index: number): Promise<Buffer> {
    return (await this.resolveBlock(index)) ?? Buffer.alloc(this.blockSize);
  }

  /** The files, oldest (the full VHD) first. */
  get chainFiles(): readonly VhdBlockFile[] {
    return this.files;
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }

  private get newest(): VhdBlockFile {
    return this.files[this.files.length - 1]!;
  }

  /** Merges block `index` from newest to oldest; undefined when no file holds any of it. */
  private async resolveBlock(index: number): Promise<Buffer | undefined> {
    const sectors = this.blockSize / SECTOR;
    let out: Buffer | undefined;
    let unresolved: Uint8Array | undefined;
    let remaining = sectors;
    for (let f = this.files.length - 1; f >= 0 && remaining > 0; f--) {
      const file = this.files[f]!;
      if (!file.hasBlock(index)) continue;
      const into = this.pool.acquire();
      let stored: VhdStoredBlock;
      try {
        stored = (await file.readBlock(index, into))!;
        this.check?.(file, index, stored);
      } catch (err) {
        this.pool.release(into);
        throw err;
      }
      // The common case (vhd-tool marks every sector): the newest copy is the answer, no merging.
      if (out === undefined && allSectorsMarked(stored.bitmap, sectors)) return stored.data;
      if (out === undefined) {
        out = Buffer.alloc(this.blockSize);
        unresolved = new Uint8Array(sectors).fill(1);
      }
      for (let s = 0; s < sectors; s++) {
        if (unresolved![s] === 0 || !sectorMarked(stored.bitmap, s)) continue;
        stored.data.copy(out, s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
        unresolved![s] = 0;
        remaining--;
      }
      this.pool.release(into);
    }
    // Sectors no file marks stay zero: unmarked sectors of a dynamic VHD read as zeros.
    return out;
  }
}

/** The whole disk of a chain, opened and closed around the read. */
export async function* readVhdChain(paths: readonly string[]): AsyncGenerator<Buffer> {
  const chain = await VhdChainReader.open(paths);
  try {
    yield* chain.read();
  } finally {
    await chain.close();
  }
}

function checkLinks(files: VhdBlockFile[]): void {
  const base = files[0]!;
  if (base.footer.diskType !== DiskType.Dynamic) {
    throw new VhdChainError(
      base.path,
      `${base.path} is a differencing VHD but starts the chain: its parent ${base.header.parentUuid} ("${base.header.parentName}") is missing`,
    );
  }
  for (let i = 1; i < files.length; i++) {
    const child = files[i]!;
    const parent = files[i - 1]!;
    if (child.footer.diskType !== DiskType.Differencing) {
      throw new VhdChainError(
        child.path,
        `${child.path} is a full (dynamic) VHD, so it cannot continue the chain after ${parent.path}`,
      );
    }
    if (child.header.parentUuid !== parent.footer.uuid) {
      throw new VhdChainError(
        child.path,
        `${child.path} is a child of VHD ${child.header.parentUuid} ("${child.header.parentName}"), ` +
          `but the file before it in the chain, ${parent.path}, is VHD ${parent.footer.uuid}`,
      );
    }
    if (child.header.blockSize !== parent.header.blockSize) {
      throw new VhdChainError(
        child.path,
        `${child.path} uses ${child.header.blockSize}-byte blocks but its parent ${parent.path} uses ${parent.header.blockSize}-byte blocks`,
        'unsupported',
      );
    }
  }
}
