import { openLocalFile, readExactly, ShortReadError, type RandomAccessFile } from '../../core/random-access-file.js';
import type { VhdBlockFile, VhdStoredBlock } from './vhd-block-file.js';
import { VhdFormatError } from './vhd-errors.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  decodeBat,
  decodeFooter,
  decodeHeader,
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  type VhdFooter,
  type VhdHeader,
} from './vhd-structures.js';

// Random access to one dynamic or differencing VHD file: the footer (read from the end, where it is
// authoritative), the header and the BAT are checked on open, and every BAT entry is checked to lie inside
// the file, so a damaged file fails at open with its name and the byte at fault rather than mid-restore.

export type { VhdStoredBlock };

export class VhdFileReader implements VhdBlockFile {
  private constructor(
    readonly path: string,
    private readonly file: RandomAccessFile,
    readonly footer: VhdFooter,
    readonly header: VhdHeader,
    readonly bat: Uint32Array,
    readonly fileSize: number,
  ) {}

  static async open(path: string): Promise<VhdFileReader> {
    return VhdFileReader.openFile(await openLocalFile(path, 'read'));
  }

  /** As open, on a file already open for reading (a remote's); the reader owns it from here and closes it. */
  static async openFile(file: RandomAccessFile): Promise<VhdFileReader> {
    const path = file.name;
    try {
      const size = await file.size();
      const where = (offset: number) => ({ offset, source: path });
      if (size < FOOTER_SIZE + HEADER_SIZE + FOOTER_SIZE) {
        throw new VhdFormatError('truncated', `file is ${size} bytes, too small for a dynamic VHD`, where(size));
      }
      const footerAt = size - FOOTER_SIZE;
      const footer = decodeFooter(await readVhdAt(file, footerAt, FOOTER_SIZE), where(footerAt));
      if (footer.diskType === DiskType.Fixed) {
        throw new VhdFormatError(
          'unsupported',
          'fixed VHD: only dynamic and differencing files can be read as a chain',
          where(footerAt),
        );
      }
      if (footer.dataOffset < FOOTER_SIZE || footer.dataOffset + HEADER_SIZE > footerAt) {
        throw new VhdFormatError(
          'footer',
          `dynamic header offset ${footer.dataOffset} is outside the file`,
          where(footerAt),
        );
      }
      const header = decodeHeader(await readVhdAt(file, footer.dataOffset, HEADER_SIZE), where(footer.dataOffset));
      const needed = Math.ceil(footer.currentSize / header.blockSize);
      if (header.maxTableEntries < needed) {
        throw new VhdFormatError(
          'header',
          `BAT has ${header.maxTableEntries} entries but a ${footer.currentSize}-byte disk needs ${needed}`,
          where(footer.dataOffset),
        );
      }
      const tableBytes = batSize(header.maxTableEntries);
      if (header.tableOffset < FOOTER_SIZE || header.tableOffset + tableBytes > footerAt) {
        throw new VhdFormatError(
          'header',
          `BAT (${tableBytes} bytes at ${header.tableOffset}) is outside the file`,
          where(footer.dataOffset),
        );
      }
      const bat = decodeBat(await readVhdAt(file, header.tableOffset, tableBytes), header.maxTableEntries);
      const blockBytes = bitmapSize(header.blockSize) + header.blockSize;
      for (let i = 0; i < needed; i++) {
        const sector = bat[i]!;
        if (sector === BAT_ABSENT) continue;
        if (sector * SECTOR + blockBytes > footerAt) {
          throw new VhdFormatError(
            'bat',
            `BAT entry of block ${i} points to byte ${sector * SECTOR}, past the end of the data (${footerAt})`,
            where(header.tableOffset + i * 4),
          );
        }
      }
      return new VhdFileReader(path, file, footer, header, bat, size);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  get blockCount(): number {
    return Math.ceil(this.footer.currentSize / this.header.blockSize);
  }

  hasBlock(index: number): boolean {
    return index < this.blockCount && this.bat[index] !== BAT_ABSENT;
  }

  /** Bytes of a stored block: its sector bitmap then its data. */
  get storedBlockBytes(): number {
    return bitmapSize(this.header.blockSize) + this.header.blockSize;
  }

  /**
   * The stored bitmap and data of a block, or undefined when the file does not hold it. `into` (at least
   * storedBlockBytes long) is read into instead of a new buffer: a long read then recycles its memory.
   */
  async readBlock(index: number, into?: Buffer): Promise<VhdStoredBlock | undefined> {
    if (!this.hasBlock(index)) return undefined;
    const bitmapBytes = bitmapSize(this.header.blockSize);
    const buf = await readVhdAt(this.file, this.bat[index]! * SECTOR, bitmapBytes + this.header.blockSize, into);
    return { bitmap: buf.subarray(0, bitmapBytes), data: buf.subarray(bitmapBytes) };
  }

  /** Raw bytes of the file (a footer copy, the metadata region), exactly `length` of them. */
  readRaw(position: number, length: number): Promise<Buffer> {
    return readVhdAt(this.file, position, length);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Exactly `length` bytes at `position`; a file that ends sooner is a truncated VHD (named with the offset). */
export async function readVhdAt(
  file: RandomAccessFile,
  position: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  try {
    return await readExactly(file, position, length, into);
  } catch (err) {
    if (!(err instanceof ShortReadError)) throw err;
    throw new VhdFormatError('truncated', `file ends before byte ${position + length}`, {
      offset: err.position,
      source: file.name,
    });
  }
}
