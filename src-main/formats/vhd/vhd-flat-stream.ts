import type { VhdChainReader } from './vhd-chain-reader.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  DiskType,
  encodeBat,
  encodeFooter,
  encodeHeader,
  FOOTER_SIZE,
  HEADER_SIZE,
  SECTOR,
  SLUICE_CREATOR_APP,
  vhdTimestamp,
} from './vhd-structures.js';

// A chain flattened to one dynamic VHD, produced front to back in vhd-tool's stream layout (footer copy,
// header, one empty locator sector, BAT, then the blocks in increasing order, then the footer). Only the
// blocks some file of the chain holds are sent: what a host's PUT /import_raw_vdi?format=vhd takes to write a
// fresh VDI, and a standalone VHD file for export. Its length is known before the first byte (an upload sends
// it as Content-Length; progress has a total).

export interface FlatVhdStream {
  length: number;
  blocks: number;
  body: AsyncGenerator<Buffer>;
}

export function flatVhdStream(chain: VhdChainReader, opts: { uuid: string }): FlatVhdStream {
  const blockSize = chain.blockSize;
  const entries = Math.ceil(chain.size / blockSize);
  const present = chain.presentBlocks();
  const bitmapBytes = bitmapSize(blockSize);
  const tableOffset = FOOTER_SIZE + HEADER_SIZE + SECTOR;
  const firstBlock = tableOffset + batSize(entries);
  const bat = new Uint32Array(entries).fill(BAT_ABSENT);
  present.forEach((index, n) => (bat[index] = (firstBlock + n * (bitmapBytes + blockSize)) / SECTOR));
  const footer = encodeFooter({
    currentSize: chain.size,
    diskType: DiskType.Dynamic,
    uuid: opts.uuid,
    timestamp: vhdTimestamp(),
    creatorApp: SLUICE_CREATOR_APP,
  });
  const header = encodeHeader({ tableOffset, maxTableEntries: entries, blockSize });
  const length = firstBlock + present.length * (bitmapBytes + blockSize) + FOOTER_SIZE;
  const fullBitmap = Buffer.alloc(bitmapBytes, 0xff);

  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.concat([footer, header, Buffer.alloc(SECTOR), encodeBat(bat)]);
    for (const index of present) {
      yield fullBitmap;
      yield await chain.readBlock(index);
    }
    yield footer;
  }
  return { length, blocks: present.length, body: body() };
}
