import { writeExactly, type RandomAccessFile } from '../../core/random-access-file.js';
import { allSectorsMarked, overlayMarkedSectors, zeroUnmarkedSectors } from './vhd-bitmap.js';
import { VhdFormatError } from './vhd-errors.js';
import { readVhdAt, type VhdStoredBlock } from './vhd-file-reader.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  decodeBat,
  decodeFooter,
  decodeHeader,
  encodeBat,
  encodeFooter,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  type VhdFooter,
  type VhdHeader,
} from './vhd-structures.js';

// A dynamic or differencing VHD file changed in place: blocks written into it (appended, or laid over the
// ones it has), its BAT and its footers rewritten. Nothing here syncs on its own, or decides in what order
// blocks, BAT and footers go to disk: what makes a change crash-safe is the caller's to order (the merge).

export interface VhdUpdateOptions {
  /**
   * Reads the footer copy at byte 0 when the trailing one does not decode: an interrupted merge may have
   * overwritten the trailing footer with a block it cut short, and only a merge's last step rewrites byte 0.
   */
  footerCopyFallback?: boolean;
  /** Sees the stored checksum of the dynamic header, before the BAT is read; throws to refuse the file. */
  checkHeader?: (checksum: number) => void;
}

export class VhdDynamicFile {
  /** Bytes read from and written to the file since it was opened (blocks, bitmaps, BAT, footers). */
  bytesRead = 0;
  bytesWritten = 0;
  private dirtyLow = Infinity;
  private dirtyHigh = -1;

  private constructor(
    private readonly file: RandomAccessFile,
    private footer: VhdFooter,
    private footerRaw: Buffer,
    readonly header: VhdHeader,
    private readonly bat: Uint32Array,
    /** Where the data ends (a sector boundary): new blocks go here, and the trailing footer after them. */
    public dataEnd: number,
  ) {}

  /**
   * Takes `file` (opened for update) and reads its metadata, checking that every BAT entry lies inside the
   * file; the file is closed when that fails. A footer copy at byte 0 that differs from the footer in force is
   * rewritten (and synced) first, so both copies agree before anything else changes.
   */
  static async open(file: RandomAccessFile, opts: VhdUpdateOptions = {}): Promise<VhdDynamicFile> {
    try {
      const size = await file.size();
      const where = (offset: number) => ({ offset, source: file.name });
      let footerAt = size - FOOTER_SIZE;
      let footerRaw = await readVhdAt(file, footerAt, FOOTER_SIZE);
      let footer: VhdFooter;
      try {
        footer = decodeFooter(footerRaw, where(footerAt));
      } catch (err) {
        if (!opts.footerCopyFallback) throw err;
        footerAt = 0;
        footerRaw = await readVhdAt(file, 0, FOOTER_SIZE);
        footer = decodeFooter(footerRaw, where(0));
      }
      if (!footerRaw.equals(await readVhdAt(file, 0, FOOTER_SIZE))) {
        await writeExactly(file, footerRaw, 0);
        await file.sync();
      }
      const headerRaw = await readVhdAt(file, footer.dataOffset, HEADER_SIZE);
      const header = decodeHeader(headerRaw, where(footer.dataOffset));
      opts.checkHeader?.(headerRaw.readUInt32BE(36));
      const bat = decodeBat(
        await readVhdAt(file, header.tableOffset, batSize(header.maxTableEntries)),
        header.maxTableEntries,
      );
      return new VhdDynamicFile(file, footer, footerRaw, header, bat, dataEndOf(file.name, size, footer, header, bat));
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  get name(): string {
    return this.file.name;
  }

  get diskType(): number {
    return this.footer.diskType;
  }

  /** Bytes of a stored block: its sector bitmap then its data. */
  get storedBlockBytes(): number {
    return bitmapSize(this.header.blockSize) + this.header.blockSize;
  }

  hasBlock(index: number): boolean {
    return this.bat[index] !== BAT_ABSENT;
  }

  /** A block as it is on disk; the BAT must name it. */
  async readBlock(index: number): Promise<VhdStoredBlock> {
    const bitmapBytes = bitmapSize(this.header.blockSize);
    const buf = await readVhdAt(this.file, this.bat[index]! * SECTOR, bitmapBytes + this.header.blockSize);
    this.bytesRead += buf.length;
    return { bitmap: buf.subarray(0, bitmapBytes), data: buf.subarray(bitmapBytes) };
  }

  /**
   * Writes a newer block (a child's) into this file: appended at dataEnd when the file lacks it (the BAT entry
   * changes in memory only, until writeChangedBat), overwritten when the newer one marks every sector, else
   * laid over the stored one sector by sector. Returns what the block now holds.
   */
  async mergeBlock(index: number, bitmap: Buffer, data: Buffer): Promise<VhdStoredBlock> {
    const bitmapBytes = bitmap.length;
    const sectors = this.header.blockSize / SECTOR;
    const existing = this.bat[index]!;
    if (existing === BAT_ABSENT) {
      const at = this.dataEnd;
      if (!allSectorsMarked(bitmap, sectors)) data = zeroUnmarkedSectors(bitmap, data, sectors);
      await this.write(Buffer.concat([bitmap, data]), at);
      this.bat[index] = at / SECTOR;
      this.dataEnd = at + bitmapBytes + data.length;
      this.dirtyLow = Math.min(this.dirtyLow, index);
      this.dirtyHigh = Math.max(this.dirtyHigh, index);
      return { bitmap, data };
    }
    const at = existing * SECTOR;
    if (allSectorsMarked(bitmap, sectors)) {
      await this.write(Buffer.concat([bitmap, data]), at);
      return { bitmap, data };
    }
    const own = await readVhdAt(this.file, at, bitmapBytes + this.header.blockSize);
    this.bytesRead += own.length;
    const stored = { bitmap: own.subarray(0, bitmapBytes), data: own.subarray(bitmapBytes) };
    overlayMarkedSectors(stored, bitmap, data, sectors);
    await this.write(own, at);
    return stored;
  }

  /** Writes the BAT sectors that hold entries mergeBlock changed; false when there were none. */
  async writeChangedBat(): Promise<boolean> {
    if (this.dirtyHigh < 0) return false;
    const perSector = SECTOR / 4;
    const firstSector = Math.floor(this.dirtyLow / perSector);
    const lastSector = Math.floor(this.dirtyHigh / perSector);
    const table = encodeBat(this.bat).subarray(firstSector * SECTOR, (lastSector + 1) * SECTOR);
    await this.write(table, this.header.tableOffset + firstSector * SECTOR);
    this.dirtyLow = Infinity;
    this.dirtyHigh = -1;
    return true;
  }

  /** Writes the footer at `position` without truncating: room kept for blocks not yet written before it. */
  async writeFooterAt(position: number): Promise<void> {
    await this.write(this.footerRaw, position);
  }

  /** The footer at dataEnd, the file cut right after it. */
  async writeTrailingFooter(): Promise<void> {
    await this.write(this.footerRaw, this.dataEnd);
    await this.file.truncate(this.dataEnd + FOOTER_SIZE);
  }

  /** The footer copy at byte 0. */
  async writeFooterCopy(): Promise<void> {
    await this.write(this.footerRaw, 0);
  }

  /** The file stands for `newer`'s point from now on: its uuid, size and time, in the footer kept in memory. */
  adoptIdentity(newer: VhdFooter): void {
    this.footerRaw = encodeFooter({
      currentSize: newer.currentSize,
      originalSize: newer.originalSize,
      geometry: newer.geometry,
      timestamp: newer.timestamp,
      uuid: newer.uuid,
      diskType: this.footer.diskType,
      dataOffset: this.footer.dataOffset,
      creatorApp: this.footer.creatorApp,
      creatorVersion: this.footer.creatorVersion,
      creatorHostOs: this.footer.creatorHostOs,
    });
    this.footer = { ...this.footer, uuid: newer.uuid, currentSize: newer.currentSize };
  }

  sync(): Promise<void> {
    return this.file.sync();
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => {});
  }

  private async write(buf: Buffer, position: number): Promise<void> {
    await writeExactly(this.file, buf, position);
    this.bytesWritten += buf.length;
  }
}

/**
 * The stored checksum of a VHD file's dynamic header, found through the footer copy at byte 0 (a merge may have
 * cut the trailing one short): what tells one file from another under the same name.
 */
export async function readHeaderChecksum(file: RandomAccessFile): Promise<number> {
  const footer = decodeFooter(await readVhdAt(file, 0, FOOTER_SIZE), { offset: 0, source: file.name });
  return (await readVhdAt(file, footer.dataOffset + 36, 4)).readUInt32BE(0);
}

/** Where the data ends: past the metadata and the furthest block, rounded up to a sector. */
function dataEndOf(name: string, size: number, footer: VhdFooter, header: VhdHeader, bat: Uint32Array): number {
  const blockBytes = bitmapSize(header.blockSize) + header.blockSize;
  let end = Math.max(header.tableOffset + batSize(header.maxTableEntries), footer.dataOffset + HEADER_SIZE);
  for (const l of header.parentLocators) end = Math.max(end, l.dataOffset + l.dataSpace);
  for (let i = 0; i < bat.length; i++) {
    if (bat[i] === BAT_ABSENT) continue;
    const at = bat[i]! * SECTOR;
    if (at + blockBytes > size)
      throw new VhdFormatError('bat', `BAT entry of block ${i} points past the end of the file`, {
        offset: header.tableOffset + i * 4,
        source: name,
      });
    end = Math.max(end, at + blockBytes);
  }
  return Math.ceil(end / SECTOR) * SECTOR;
}
