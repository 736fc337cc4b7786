import {
  BAT_NAME,
  blockObjectName,
  CHUNK_FILTERS_NAME,
  chunkFilter,
  chunkFiltersText,
  encodeDirectoryBat,
  FOOTER_NAME,
  HEADER_NAME,
  type ChunkCompression,
  type ChunkFilter,
  type VhdDirectoryStore,
} from './vhd-directory.js';
import { VhdFormatError } from './vhd-errors.js';
import { newVhdFooter, type VhdFileWriterOptions } from './vhd-file-writer.js';
import {
  bitmapSize,
  DEFAULT_BLOCK_SIZE,
  encodeHeader,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  VHD_MAX_SIZE,
} from './vhd-structures.js';

// Writes one VHD as a directory of objects (vhd-directory.ts): each block becomes its object as it arrives, a
// few in flight at once (each holds its own copy, so memory is bounded by the window, not the disk); the
// block table, footer and header are written only after the last block, so a directory cut short has no
// header and never opens as a VHD. The alias that names the directory is the caller's, written after this.

export interface VhdDirectoryWriterOptions extends VhdFileWriterOptions {
  /** XO writes brotli; 'none' writes no chunk-filters.json. */
  compression?: ChunkCompression;
  /** Block objects written at once (default 4). */
  concurrency?: number;
}

export interface VhdDirectorySummary {
  blocks: number;
  /** Bytes of the objects written (filtered). */
  storedBytes: number;
  /** What the same VHD would take as a file: footer copy, header, BAT, blocks, footer (XO's `size`). */
  vhdFileBytes: number;
}

export class VhdDirectoryWriter {
  private readonly present: Uint8Array;
  private readonly bitmapBytes: number;
  private readonly fullBitmap: Buffer;
  private readonly filter: ChunkFilter;
  private readonly window: number;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private blocks = 0;
  private storedBytes = 0;
  private state: 'open' | 'finished' | 'failed' = 'open';
  /** Metadata objects written by finish (so abort removes them too). */
  private readonly written = new Set<string>();

  private constructor(
    private readonly store: VhdDirectoryStore,
    private readonly opts: VhdDirectoryWriterOptions,
    private readonly blockSize: number,
    private readonly entries: number,
  ) {
    this.present = new Uint8Array(entries);
    this.bitmapBytes = bitmapSize(blockSize);
    this.fullBitmap = Buffer.alloc(this.bitmapBytes, 0xff);
    this.filter = chunkFilter(opts.compression ?? 'brotli');
    this.window = Math.max(1, opts.concurrency ?? 4);
  }

  static start(store: VhdDirectoryStore, opts: VhdDirectoryWriterOptions): VhdDirectoryWriter {
    const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isSafeInteger(opts.currentSize) || opts.currentSize < 0 || opts.currentSize % SECTOR !== 0) {
      throw new RangeError(`VHD size must be a whole number of 512-byte sectors, not ${opts.currentSize}`);
    }
    if (opts.currentSize > VHD_MAX_SIZE)
      throw new RangeError(`a ${opts.currentSize}-byte disk exceeds the VHD limit of 2040 GiB`);
    return new VhdDirectoryWriter(store, opts, blockSize, Math.ceil(opts.currentSize / blockSize));
  }

  get compression(): ChunkCompression {
    return this.filter.id;
  }

  /** Stores block `index`; `data` may be shorter than a block (the disk's tail), padded with zeros. */
  async writeBlock(index: number, data: Buffer, bitmap?: Buffer): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.entries)
      throw this.usage(`block ${index} is outside a ${this.entries}-block disk`);
    if (this.present[index]) throw this.usage(`block ${index} written twice`);
    if (data.length > this.blockSize)
      throw this.usage(`block ${index} has ${data.length} bytes, more than the block size ${this.blockSize}`);
    if (bitmap !== undefined && bitmap.length !== this.bitmapBytes)
      throw this.usage(`bitmap of block ${index} has ${bitmap.length} bytes, not ${this.bitmapBytes}`);
    while (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
    this.throwIfFailed();
    // A new buffer (concat), so the caller may reuse `data` as soon as this returns.
    const stored = await this.filter.encode(
      Buffer.concat([bitmap ?? this.fullBitmap, data, Buffer.alloc(this.blockSize - data.length)]),
    );
    this.present[index] = 1;
    this.blocks++;
    this.storedBytes += stored.length;
    const put: Promise<void> = this.store.writeNew(blockObjectName(index), stored).then(
      () => {
        this.inFlight.delete(put);
      },
      (err: unknown) => {
        this.inFlight.delete(put);
        this.failure ??= err;
        this.state = 'failed';
      },
    );
    this.inFlight.add(put);
  }

  /** After every block: the block table, footer, filters and header. */
  async finish(): Promise<VhdDirectorySummary> {
    this.assertOpen();
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    const { opts } = this;
    const footer = newVhdFooter(opts, FOOTER_SIZE);
    // XO's header: the table right after it (a directory has no file offsets), no parent locators; a child
    // names its parent by the parent's alias, relative to its own.
    const header = encodeHeader({
      tableOffset: FOOTER_SIZE + HEADER_SIZE,
      maxTableEntries: this.entries,
      blockSize: this.blockSize,
      ...(opts.parent
        ? { parentUuid: opts.parent.uuid, parentName: opts.parent.name, parentTimestamp: opts.parent.timestamp ?? 0 }
        : {}),
    });
    try {
      const filters = chunkFiltersText(this.filter.id);
      if (filters !== undefined) await this.put(CHUNK_FILTERS_NAME, filters, false);
      await this.put(BAT_NAME, encodeDirectoryBat(this.present, this.entries));
      await this.put(FOOTER_NAME, footer);
      // Last: a directory opens by its header, so until this object exists it is not a VHD.
      await this.put(HEADER_NAME, header);
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
    this.state = 'finished';
    const batBytes = Math.ceil((this.entries * 4) / SECTOR) * SECTOR;
    return {
      blocks: this.blocks,
      storedBytes: this.storedBytes,
      vhdFileBytes:
        FOOTER_SIZE + HEADER_SIZE + batBytes + this.blocks * (this.bitmapBytes + this.blockSize) + FOOTER_SIZE,
    };
  }

  /** Removes every object this writer stored (after a failure or a cancel); safe to call more than once. */
  async abort(): Promise<void> {
    if (this.state === 'finished') return;
    this.state = 'failed';
    await Promise.all(this.inFlight);
    for (const name of [HEADER_NAME, FOOTER_NAME, BAT_NAME, CHUNK_FILTERS_NAME])
      if (this.written.has(name)) await this.store.delete(name);
    for (let i = 0; i < this.entries; i++) {
      if (!this.present[i]) continue;
      await this.store.delete(blockObjectName(i));
      this.present[i] = 0;
    }
  }

  private async put(name: string, data: Buffer | string, filtered = true): Promise<void> {
    const bytes = filtered ? await this.filter.encode(Buffer.from(data)) : data;
    this.written.add(name);
    await this.store.writeNew(name, bytes);
    this.storedBytes += bytes.length;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private assertOpen(): void {
    this.throwIfFailed();
    if (this.state !== 'open') throw this.usage(`the VHD directory writer is ${this.state}`);
  }

  private usage(message: string): VhdFormatError {
    return new VhdFormatError('usage', message, { offset: 0, source: this.store.label });
  }
}
