import { promises as fs } from 'node:fs';
import { localFileOf, writeExactly, type RandomAccessFile } from '../../core/random-access-file.js';
import { VhdFormatError } from './vhd-errors.js';
import { encodeParentLocators } from './vhd-parent-locator.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  DEFAULT_BLOCK_SIZE,
  DiskType,
  encodeBat,
  encodeFooter,
  encodeHeader,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  SLUICE_CREATOR_APP,
  VHD_MAX_SIZE,
} from './vhd-structures.js';

// Writes a dynamic or differencing VHD file as Xen Orchestra stores one: footer copy, dynamic header, parent
// locator data (an empty sector for a dynamic disk), BAT, blocks, footer. Blocks are appended in increasing index order as
// they arrive, so a host stream goes to disk with one block in memory; the BAT, sized up front from the disk
// size, is kept in memory (4 bytes a block: 4 MiB for a 2 TiB disk) and written when the file is finished.

/** "Wi2k": the host OS field vhd-tool and Windows write. */
const HOST_OS_WINDOWS = 0x5769_326b;
/** Where the dynamic header goes, right after the footer copy. */
const HEADER_OFFSET = FOOTER_SIZE;

export interface VhdParentLink {
  /** The parent file's footer uuid. */
  uuid: string;
  /** The parent's file name, relative to this file's folder (XO: "<timestamp>.vhd"). */
  name: string;
  /** The parent's modification time in VHD seconds (since 2000); 0 when unknown, as vhd-tool leaves it. */
  timestamp?: number;
}

export interface VhdFileWriterOptions {
  /** Disk size in bytes, a multiple of 512. */
  currentSize: number;
  /** Footer uuid: the snapshot VDI's uuid in an XO repository. */
  uuid: string;
  /** Makes the file differencing. */
  parent?: VhdParentLink;
  blockSize?: number;
  /** Footer time stamp (VHD seconds); default now. */
  timestamp?: number;
  /**
   * Creator application. A host stream's file passes the host's ("caml"), as XO stores the stream with its
   * footer unchanged; a file Sluice makes on its own takes the default SLUICE_CREATOR_APP, which every qemu
   * sizes by current_size (see vhd-structures.ts).
   */
  creatorApp?: string;
  creatorVersion?: number;
  creatorHostOs?: number;
  originalSize?: number;
}

export interface VhdFileSummary {
  blocks: number;
  /** Length of the finished file. */
  bytes: number;
}

export class VhdFileWriter {
  private readonly blockSize: number;
  private readonly bitmapBytes: number;
  private readonly tableOffset: number;
  private readonly bat: Uint32Array;
  private readonly fullBitmap: Buffer;
  private readonly footer: Buffer;
  private readonly head: Buffer;
  private nextOffset: number;
  private lastIndex = -1;
  private blocks = 0;
  private state: 'open' | 'finished' | 'failed' = 'open';

  private constructor(
    private readonly file: RandomAccessFile,
    private readonly ownsHandle: boolean,
    opts: VhdFileWriterOptions,
    head: Buffer,
    layout: { tableOffset: number; entries: number },
  ) {
    this.blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.bitmapBytes = bitmapSize(this.blockSize);
    this.tableOffset = layout.tableOffset;
    this.bat = new Uint32Array(layout.entries).fill(BAT_ABSENT);
    this.fullBitmap = Buffer.alloc(this.bitmapBytes, 0xff);
    this.nextOffset = layout.tableOffset + batSize(layout.entries);
    this.footer = head.subarray(0, FOOTER_SIZE);
    this.head = head;
  }

  /** Creates `path` (which must not exist) and writes the metadata; the file is ours to close. */
  static async create(path: string, opts: VhdFileWriterOptions): Promise<VhdFileWriter> {
    // Read-write: smbnetfs (SMB through FUSE) fails ftruncate on a write-only handle.
    const file = localFileOf(path, await fs.open(path, 'wx+', 0o640));
    try {
      return await VhdFileWriter.start(file, true, opts);
    } catch (err) {
      await file.close().catch(() => undefined);
      await fs.rm(path, { force: true });
      throw err;
    }
  }

  /** Writes into a handle the caller owns (e.g. an AtomicFile's temp file): finish() leaves it open. */
  static async onHandle(handle: fs.FileHandle, name: string, opts: VhdFileWriterOptions): Promise<VhdFileWriter> {
    return VhdFileWriter.onFile(localFileOf(name, handle, { borrowed: true }), opts);
  }

  /** Writes into a file the caller owns, wherever it is stored: finish() leaves it open. */
  static async onFile(file: RandomAccessFile, opts: VhdFileWriterOptions): Promise<VhdFileWriter> {
    return VhdFileWriter.start(file, false, opts);
  }

  private static async start(
    file: RandomAccessFile,
    owns: boolean,
    opts: VhdFileWriterOptions,
  ): Promise<VhdFileWriter> {
    const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isSafeInteger(opts.currentSize) || opts.currentSize < 0 || opts.currentSize % SECTOR !== 0) {
      throw new RangeError(`VHD size must be a whole number of 512-byte sectors, not ${opts.currentSize}`);
    }
    if (opts.currentSize > VHD_MAX_SIZE)
      throw new RangeError(`a ${opts.currentSize}-byte disk exceeds the VHD limit of 2040 GiB`);
    const entries = Math.ceil(opts.currentSize / blockSize);
    const locators = opts.parent ? encodeParentLocators(opts.parent.name, HEADER_OFFSET + HEADER_SIZE) : undefined;
    // vhd-tool keeps one sector after the header for a locator even in a dynamic disk (BAT at 2048); doing the
    // same makes a stored full VHD byte-identical to the host's stream, which is easy to check and to explain.
    const locatorSpace = locators?.data ?? Buffer.alloc(SECTOR);
    const tableOffset = HEADER_OFFSET + HEADER_SIZE + locatorSpace.length;
    const footer = newVhdFooter(opts, HEADER_OFFSET);
    const header = encodeHeader({
      tableOffset,
      maxTableEntries: entries,
      blockSize,
      ...(opts.parent
        ? {
            parentUuid: opts.parent.uuid,
            parentName: opts.parent.name,
            parentTimestamp: opts.parent.timestamp ?? 0,
            parentLocators: locators!.locators,
          }
        : {}),
    });
    const head = Buffer.concat([footer, header, locatorSpace]);
    // The empty BAT goes out now too, so even an abandoned file has well-formed metadata up to the blocks.
    await writeParts(file, [head, encodeBat(new Uint32Array(entries).fill(BAT_ABSENT))], 0);
    return new VhdFileWriter(file, owns, opts, head, { tableOffset, entries });
  }

  /**
   * Appends block `index` (indexes must increase). `data` may be shorter than a block (the disk's tail); it is
   * padded with zeros. `bitmap` marks the sectors the block holds; default all (what vhd-tool sends).
   */
  async writeBlock(index: number, data: Buffer, bitmap?: Buffer): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.bat.length) {
      throw this.usage(`block ${index} is outside a ${this.bat.length}-block disk`);
    }
    if (index <= this.lastIndex)
      throw this.usage(`block ${index} written after block ${this.lastIndex}: blocks must come in increasing order`);
    if (data.length > this.blockSize)
      throw this.usage(`block ${index} has ${data.length} bytes, more than the block size ${this.blockSize}`);
    if (bitmap !== undefined && bitmap.length !== this.bitmapBytes)
      throw this.usage(`bitmap of block ${index} has ${bitmap.length} bytes, not ${this.bitmapBytes}`);
    const parts = [bitmap ?? this.fullBitmap, data];
    if (data.length < this.blockSize) parts.push(Buffer.alloc(this.blockSize - data.length));
    const at = this.nextOffset;
    await this.guard(writeParts(this.file, parts, at));
    this.bat[index] = at / SECTOR;
    this.nextOffset = at + this.bitmapBytes + this.blockSize;
    this.lastIndex = index;
    this.blocks++;
  }

  /** Writes the BAT and the trailing footer, syncs, and closes the file if this writer opened it. */
  async finish(): Promise<VhdFileSummary> {
    this.assertOpen();
    await this.guard(writeExactly(this.file, encodeBat(this.bat), this.tableOffset));
    await this.guard(writeExactly(this.file, this.footer, this.nextOffset));
    await this.guard(this.file.sync());
    this.state = 'finished';
    if (this.ownsHandle) await this.file.close();
    return { blocks: this.blocks, bytes: this.nextOffset + FOOTER_SIZE };
  }

  /** The file's bytes before the first block (footer copy, header, locators, BAT) as they are now. */
  metadata(): Buffer {
    return Buffer.concat([this.head, encodeBat(this.bat)]);
  }

  /** Gives up: closes and deletes the file if this writer created it. */
  async abort(): Promise<void> {
    if (this.state === 'finished') return;
    this.state = 'failed';
    if (!this.ownsHandle) return;
    await this.file.close().catch(() => undefined);
    await fs.rm(this.file.name, { force: true });
  }

  private async guard<T>(op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw this.usage(`the VHD writer is ${this.state}`);
  }

  private usage(message: string): VhdFormatError {
    return new VhdFormatError('usage', message, { offset: this.nextOffset, source: this.file.name });
  }
}

/** Parts laid end to end from `position` (a block's bitmap, its data, the zeros that pad a short tail). */
async function writeParts(file: RandomAccessFile, parts: Buffer[], position: number): Promise<void> {
  let at = position;
  for (const part of parts) {
    await writeExactly(file, part, at);
    at += part.length;
  }
}

/**
 * The footer of a new dynamic or differencing VHD, a file or a directory (whose header sits elsewhere:
 * `dataOffset`), with the defaults Sluice writes: now, Sluice as the creator, Windows as the host OS (as XO).
 */
export function newVhdFooter(opts: VhdFileWriterOptions, dataOffset: number): Buffer {
  return encodeFooter({
    currentSize: opts.currentSize,
    originalSize: opts.originalSize ?? opts.currentSize,
    diskType: opts.parent ? DiskType.Differencing : DiskType.Dynamic,
    uuid: opts.uuid,
    timestamp: opts.timestamp ?? Math.floor((Date.now() - Date.UTC(2000, 0, 1)) / 1000),
    creatorApp: opts.creatorApp ?? SLUICE_CREATOR_APP,
    creatorVersion: opts.creatorVersion ?? 0x0001_0000,
    creatorHostOs: opts.creatorHostOs ?? HOST_OS_WINDOWS,
    dataOffset,
  });
}
