import type { VirtualDisk } from '../disk/virtual-disk.js';
import { ByteReader } from './byte-reader.js';
import {
  BAT_ABSENT,
  decodeFooter,
  decodeHeader,
  DISK_TYPE_DIFFERENCING,
  DISK_TYPE_DYNAMIC,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  VhdFormatError,
  type VhdFooter,
} from './vhd-structures.js';

export { VhdFormatError } from './vhd-structures.js';

/** How far into the stream metadata may sit while we still keep everything before it (blocks may precede it). */
const PREFIX_WINDOW = 64 * 1024 * 1024;

interface BlockPlacement {
  index: number;
  offset: number;
}

/**
 * PUT /import_raw_vdi?format=vhd, read front to back in one pass: the vhd-tool stream layout or any ordinary
 * dynamic or differencing VHD file (BAT anywhere within the first 64 MiB, blocks in any order, sparse bitmaps,
 * trailing footer). A dynamic VHD writes its present blocks whole (sectors absent from the bitmap as zeros);
 * a differencing VHD writes only the sectors its bitmaps mark, over what the disk already holds. Absent blocks
 * leave the disk untouched, as vhd-tool does for a freshly created (zeroed) VDI.
 */
export async function importVhd(disk: VirtualDisk, body: AsyncIterable<Buffer>): Promise<void> {
  const reader = new ByteReader(body);
  try {
    await importFrom(reader, disk);
  } finally {
    await reader.close();
  }
}

async function importFrom(reader: ByteReader, disk: VirtualDisk): Promise<void> {
  const copy = await reader.read(FOOTER_SIZE);
  if (copy.length < FOOTER_SIZE) throw new VhdFormatError('stream too short for a VHD footer', 0);
  const footer = decodeFooter(copy, 0);
  if (footer.diskType !== DISK_TYPE_DYNAMIC && footer.diskType !== DISK_TYPE_DIFFERENCING) {
    throw new VhdFormatError(`disk type ${footer.diskType} is not dynamic (3) or differencing (4)`, 0);
  }
  if (footer.currentSize > disk.size) {
    throw new VhdFormatError(`the VHD's ${footer.currentSize} bytes do not fit the ${disk.size}-byte disk`, 48);
  }
  const headerAt = Number(footer.dataOffset);
  // Everything up to the end of the BAT is kept, so that blocks placed before the BAT can still be found.
  const prefixParts: Buffer[] = [copy];
  const readPrefixTo = async (end: number): Promise<void> => {
    if (end > PREFIX_WINDOW)
      throw new VhdFormatError(`metadata at byte ${end} lies beyond the ${PREFIX_WINDOW}-byte streaming window`);
    const want = end - reader.position;
    if (want <= 0) return;
    const part = await reader.read(want);
    if (part.length < want) throw new VhdFormatError('stream ends inside the VHD metadata', reader.position);
    prefixParts.push(part);
  };
  if (headerAt < FOOTER_SIZE) throw new VhdFormatError(`footer data_offset ${headerAt} points into the footer`, 16);
  await readPrefixTo(headerAt + HEADER_SIZE);
  const header = decodeHeader(Buffer.concat(prefixParts).subarray(headerAt, headerAt + HEADER_SIZE), headerAt);
  const blockSize = header.blockSize;
  const sectorsPerBlock = blockSize / SECTOR;
  const bitmapBytes = Math.ceil(sectorsPerBlock / 8 / SECTOR) * SECTOR;
  const batBytes = header.maxTableEntries * 4;
  if (header.maxTableEntries < Math.ceil(footer.currentSize / blockSize)) {
    throw new VhdFormatError(
      `BAT of ${header.maxTableEntries} entries cannot cover ${footer.currentSize} bytes`,
      headerAt + 28,
    );
  }
  await readPrefixTo(header.tableOffset + batBytes);
  const prefix = Buffer.concat(prefixParts);
  prefixParts.length = 0;
  const bat = prefix.subarray(header.tableOffset, header.tableOffset + batBytes);

  const blocks: BlockPlacement[] = [];
  for (let i = 0; i < header.maxTableEntries; i++) {
    const sector = bat.readUInt32BE(i * 4);
    if (sector !== BAT_ABSENT) blocks.push({ index: i, offset: sector * SECTOR });
  }
  blocks.sort((a, b) => a.offset - b.offset);

  const differencing = footer.diskType === DISK_TYPE_DIFFERENCING;
  for (const block of blocks) {
    const at = block.offset;
    const length = bitmapBytes + blockSize;
    let bytes: Buffer;
    if (at + length <= prefix.length) {
      bytes = prefix.subarray(at, at + length);
    } else if (at >= reader.position) {
      await reader.skip(at - reader.position);
      bytes = await reader.read(length);
      if (bytes.length < length) throw new VhdFormatError(`stream ends inside block ${block.index}`, at + bytes.length);
    } else {
      throw new VhdFormatError(`block ${block.index} overlaps metadata or another block`, at);
    }
    await writeBlock(
      disk,
      footer,
      block.index,
      bytes.subarray(0, bitmapBytes),
      bytes.subarray(bitmapBytes),
      differencing,
    );
  }

  await checkTrailingFooter(reader, footer);
}

async function writeBlock(
  disk: VirtualDisk,
  footer: VhdFooter,
  index: number,
  bitmap: Buffer,
  data: Buffer,
  differencing: boolean,
): Promise<void> {
  const start = index * data.length;
  const limit = Math.min(footer.currentSize, disk.size);
  const sectors = data.length / SECTOR;
  const marked = (s: number): boolean => (bitmap[s >> 3]! & (0x80 >> (s & 7))) !== 0;
  if (!differencing) {
    // Sectors the bitmap leaves out read as zeros in a dynamic VHD, whatever the file holds there.
    let copy: Buffer | undefined;
    for (let s = 0; s < sectors; s++) {
      if (marked(s)) continue;
      copy ??= Buffer.from(data);
      copy.fill(0, s * SECTOR, (s + 1) * SECTOR);
    }
    const end = Math.min(start + data.length, limit);
    if (end > start) await disk.write(start, (copy ?? data).subarray(0, end - start));
    return;
  }
  for (let s = 0; s < sectors;) {
    if (!marked(s)) {
      s++;
      continue;
    }
    let e = s;
    while (e < sectors && marked(e)) e++;
    const from = start + s * SECTOR;
    const to = Math.min(start + e * SECTOR, limit);
    if (to > from) await disk.write(from, data.subarray(s * SECTOR, s * SECTOR + (to - from)));
    s = e;
  }
}

/** The stream must end with the footer; anything else means it was cut short. */
async function checkTrailingFooter(reader: ByteReader, footer: VhdFooter): Promise<void> {
  let tail: Buffer = Buffer.alloc(0);
  for (;;) {
    const piece = await reader.readSome(4 * 1024 * 1024);
    if (piece.length === 0) break;
    tail =
      piece.length >= FOOTER_SIZE
        ? piece.subarray(piece.length - FOOTER_SIZE)
        : Buffer.concat([tail, piece]).subarray(-FOOTER_SIZE);
  }
  const tailAt = reader.position - tail.length;
  if (tail.length < FOOTER_SIZE)
    throw new VhdFormatError('stream ends without the trailing footer (truncated?)', reader.position);
  const last = decodeFooter(tail, tailAt);
  if (last.uuid !== footer.uuid || last.currentSize !== footer.currentSize) {
    throw new VhdFormatError('trailing footer disagrees with the footer copy at byte 0', tailAt);
  }
}
