import { CLUSTER_SIZE, type VirtualDisk } from '../disk/virtual-disk.js';
import { Pacer, type PaceOptions } from './pace.js';
import {
  BAT_ABSENT,
  BITMAP_SIZE,
  BLOCK_SIZE,
  DISK_TYPE_DIFFERENCING,
  DISK_TYPE_DYNAMIC,
  encodeFooter,
  encodeHeader,
  SECTOR,
  VHD_MAX_SIZE,
  VhdFormatError,
  vhdTimestamp,
  vhdToolParentLocator,
} from './vhd-structures.js';

export interface VhdExportOptions extends PaceOptions {
  /** Footer uuid: the VDI's uuid. */
  uuid: string;
  /** Export only what differs from this disk, as a differencing VHD. */
  base?: VirtualDisk;
  /** parent_unique_id of the differencing VHD (the base file's footer uuid). */
  parentUuid?: string;
  /** Parent file name, as vhd-tool records it (unicode name and file:// locator). */
  parentName?: string;
  /** Footer time stamp; vhd-tool leaves it 0 in streams. */
  timestamp?: Date;
}

const TABLE_OFFSET = 2048;
const CLUSTERS_PER_BLOCK = BLOCK_SIZE / CLUSTER_SIZE;
/** BAT pieces are yielded at most this big, so a 2 TiB disk's 4 MiB BAT does not become one chunk. */
const MAX_PIECE = 2 * 1024 * 1024;

/**
 * The byte stream vhd-tool produces for /export_raw_vdi?format=vhd: footer copy, dynamic header, one empty
 * sector (where a file would keep its parent locator), the BAT, each present block as an all-ones bitmap plus
 * 2 MiB of data in increasing order, then the footer. No batmap.
 */
export async function* vhdExport(disk: VirtualDisk, opts: VhdExportOptions): AsyncGenerator<Buffer> {
  const pacer = new Pacer(opts);
  const currentSize = Math.ceil(disk.size / SECTOR) * SECTOR;
  if (currentSize > VHD_MAX_SIZE)
    throw new VhdFormatError(`a ${disk.size}-byte disk exceeds the VHD limit of 2040 GiB`);
  const blockCount = Math.ceil(currentSize / BLOCK_SIZE);
  const present = presentBlocks(disk, blockCount, opts.base);

  const differencing = opts.base !== undefined;
  if (differencing && (!opts.parentUuid || !opts.parentName)) {
    throw new VhdFormatError('a differencing export needs parentUuid and parentName');
  }
  const footer = encodeFooter({
    currentSize,
    diskType: differencing ? DISK_TYPE_DIFFERENCING : DISK_TYPE_DYNAMIC,
    uuid: opts.uuid,
    timestamp: vhdTimestamp(opts.timestamp),
  });
  const header = encodeHeader({
    tableOffset: TABLE_OFFSET,
    maxTableEntries: blockCount,
    ...(differencing
      ? {
          parentUuid: opts.parentUuid,
          parentName: opts.parentName,
          // vhd-tool points the locator at byte 1536 but streams that sector as zeros.
          parentLocators: [vhdToolParentLocator(opts.parentName!)],
        }
      : {}),
  });

  const batBytes = Math.ceil((blockCount * 4) / SECTOR) * SECTOR;
  const bat = Buffer.alloc(batBytes, 0xff);
  let nextSector = (TABLE_OFFSET + batBytes) / SECTOR;
  for (let b = 0; b < blockCount; b++) {
    if (!present[b]) continue;
    bat.writeUInt32BE(nextSector, b * 4);
    nextSector += (BITMAP_SIZE + BLOCK_SIZE) / SECTOR;
  }
  if (nextSector > BAT_ABSENT) throw new VhdFormatError('VHD too large for 32-bit sector offsets');

  const metadata = Buffer.concat([footer, header, Buffer.alloc(SECTOR)]);
  await pacer.produce(metadata.length);
  yield metadata;
  for (let at = 0; at < bat.length; at += MAX_PIECE) {
    const piece = bat.subarray(at, Math.min(bat.length, at + MAX_PIECE));
    await pacer.produce(piece.length);
    yield piece;
  }

  const bitmap = Buffer.alloc(BITMAP_SIZE, 0xff);
  for (let b = 0; b < blockCount; b++) {
    if (!present[b]) continue;
    const start = b * BLOCK_SIZE;
    const inDisk = Math.max(0, Math.min(BLOCK_SIZE, disk.size - start));
    await pacer.produce(BITMAP_SIZE + BLOCK_SIZE);
    yield bitmap;
    // The tail of the last block lies beyond the disk: pad it with zeros to a whole block.
    const data =
      inDisk === BLOCK_SIZE ? await disk.read(start, BLOCK_SIZE) : padTo(await disk.read(start, inDisk), BLOCK_SIZE);
    yield data;
  }
  pacer.checkAborted();
  yield Buffer.from(footer);
}

/** A block is present if any of its clusters holds data (dynamic) or may differ from base (differencing). */
function presentBlocks(disk: VirtualDisk, blockCount: number, base: VirtualDisk | undefined): Uint8Array {
  const present = new Uint8Array(blockCount);
  const changed = base ? disk.changedClusters(base) : undefined;
  for (let b = 0; b < blockCount; b++) {
    const first = b * CLUSTERS_PER_BLOCK;
    const last = Math.min(disk.clusterCount, first + CLUSTERS_PER_BLOCK);
    for (let c = first; c < last; c++) {
      if (changed ? changed[c] : disk.isClusterAllocated(c)) {
        present[b] = 1;
        break;
      }
    }
  }
  return present;
}

function padTo(data: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  data.copy(out);
  return out;
}
