import { readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeFooter,
  encodeFooter,
  FOOTER_SIZE,
  SECTOR,
  type Geometry,
} from '../../src-main/formats/vhd/vhd-structures.js';

// A Sluice-written disk folder turned into what Xen Orchestra leaves when it writes the VHDs itself: creator
// "xo  ", a CHS geometry whose cylinder count is rounded up (so cylinders × heads × sectors covers at least the
// disk, often more than its block table), and no `.vhd.checksum.json` beside the files (XO writes none).

/** The spec's heads and sectors a track, with the cylinder count rounded up instead of down. */
export function roundedUpGeometry(currentSize: number): Geometry {
  const totalSectors = Math.floor(currentSize / SECTOR);
  let sectorsPerTrack = 17;
  let heads = Math.max(4, Math.floor((Math.floor(totalSectors / 17) + 1023) / 1024));
  if (Math.floor(totalSectors / 17) >= heads * 1024 || heads > 16) {
    sectorsPerTrack = 31;
    heads = 16;
  }
  if (Math.floor(totalSectors / sectorsPerTrack) >= heads * 1024) sectorsPerTrack = 63;
  return { cylinders: Math.ceil(totalSectors / (heads * sectorsPerTrack)), heads, sectorsPerTrack };
}

/** Rewrites both footers of a VHD file as XO's writer would have made them. */
export async function asXoWrittenVhd(file: string): Promise<void> {
  const h = await open(file, 'r+');
  try {
    const { size } = await h.stat();
    const raw = Buffer.alloc(FOOTER_SIZE);
    await h.read(raw, 0, FOOTER_SIZE, size - FOOTER_SIZE);
    const f = decodeFooter(raw, { offset: size - FOOTER_SIZE, source: file });
    const footer = encodeFooter({ ...f, creatorApp: 'xo  ', geometry: roundedUpGeometry(f.currentSize) });
    await h.write(footer, 0, FOOTER_SIZE, 0);
    await h.write(footer, 0, FOOTER_SIZE, size - FOOTER_SIZE);
  } finally {
    await h.close();
  }
}

/** Every VHD of a disk folder as XO writes it, the checksum sidecars Sluice keeps removed. */
export async function asXoWrittenFolder(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.checksum.json')) rmSync(path.join(dir, name));
    else if (name.endsWith('.vhd')) await asXoWrittenVhd(path.join(dir, name));
  }
}
