import { promises as fs } from 'node:fs';
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

export interface VhdStoredBlock {
  bitmap: Buffer;
  data: Buffer;
}

export class VhdFileReader {
  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    readonly footer: VhdFooter,
    readonly header: VhdHeader,
    readonly bat: Uint32Array,
    readonly fileSize: number,
  ) {}

  static async open(path: string): Promise<VhdFileReader> {
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const where = (offset: number) => ({ offset, source: path });
      if (size < FOOTER_SIZE + HEADER_SIZE + FOOTER_SIZE) {
        throw new VhdFormatError('truncated', `file is ${size} bytes, too small for a dynamic VHD`, where(size));
      }
      const footerAt = size - FOOTER_SIZE;
      const footer = decodeFooter(await readAt(handle, footerAt, FOOTER_SIZE, path), where(footerAt));
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
      const header = decodeHeader(await readAt(handle, footer.dataOffset, HEADER_SIZE, path), where(footer.dataOffset));
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
      const bat = decodeBat(await readAt(handle, header.tableOffset, tableBytes, path), header.maxTableEntries);
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
      return new VhdFileReader(path, handle, footer, header, bat, size);
    } catch (err) {
      await handle.close();
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
    const buf = await readAt(
      this.handle,
      this.bat[index]! * SECTOR,
      bitmapBytes + this.header.blockSize,
      this.path,
      into,
    );
    return { bitmap: buf.subarray(0, bitmapBytes), data: buf.subarray(bitmapBytes) };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Exactly `length` bytes at `position`; a file that ends sooner is a truncated VHD (named with the offset). */
export async function readAt(
  handle: fs.FileHandle,
  position: number,
  length: number,
  path: string,
  into?: Buffer,
): Promise<Buffer> {
  const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0)
      throw new VhdFormatError('truncated', `file ends before byte ${position + length}`, {
        offset: position + done,
        source: path,
      });
    done += bytesRead;
  }
  return buf;
}
