import { promises as fs } from 'node:fs';
import { VhdFileReader } from '../../src-main/formats/vhd/vhd-file-reader.js';
import { batSize, bitmapSize, FOOTER_SIZE, HEADER_SIZE } from '../../src-main/formats/vhd/vhd-structures.js';

// Where each part of a repository file lies, found independently of the code under test where that is cheap
// (the tar walk below is its own), so that damage tests can aim at every kind of byte, and a seeded PRNG to
// choose the bytes: a failure names its seed, and the same seed replays it.

/** Byte ranges [from, to) of one file that hold one kind of content. */
export type Ranges = Array<[number, number]>;

/** `count` distinct offsets spread over the ranges, each range weighted by its length. */
export function pickOffsets(random: () => number, ranges: Ranges, count: number): number[] {
  const total = ranges.reduce((n, [a, b]) => n + (b - a), 0);
  if (total === 0) throw new Error('no bytes to pick from');
  const picked = new Set<number>();
  while (picked.size < Math.min(count, total)) {
    let at = Math.floor(random() * total);
    for (const [a, b] of ranges) {
      if (at < b - a) {
        picked.add(a + at);
        break;
      }
      at -= b - a;
    }
  }
  return [...picked].sort((x, y) => x - y);
}

export type VhdPart =
  | 'footer copy'
  | 'header'
  | 'BAT'
  | 'parent locators'
  | 'sector bitmaps'
  | 'data blocks'
  | 'trailing footer'
  | 'unused';

/** The parts of a VHD file as its own footer, header and BAT place them; `unused` is every byte in none. */
export async function vhdParts(file: string): Promise<Record<VhdPart, Ranges>> {
  const r = await VhdFileReader.open(file);
  try {
    const bitmap = bitmapSize(r.header.blockSize);
    const dataEnd = r.fileSize - FOOTER_SIZE;
    const blocks = [...r.bat.keys()].filter((i) => r.hasBlock(i)).map((i) => r.bat[i]! * 512);
    const parts: Record<VhdPart, Ranges> = {
      'footer copy': [[0, FOOTER_SIZE]],
      header: [[r.footer.dataOffset, r.footer.dataOffset + HEADER_SIZE]],
      BAT: [[r.header.tableOffset, r.header.tableOffset + batSize(r.header.maxTableEntries)]],
      'parent locators': r.header.parentLocators
        .filter((l) => l.dataSpace > 0)
        .map((l) => [l.dataOffset, l.dataOffset + l.dataSpace]),
      'sector bitmaps': blocks.map((at) => [at, at + bitmap]),
      'data blocks': blocks.map((at) => [at + bitmap, Math.min(at + bitmap + r.header.blockSize, dataEnd)]),
      'trailing footer': [[dataEnd, r.fileSize]],
      unused: [],
    };
    parts.unused = complement(Object.values(parts).flat(), r.fileSize);
    return parts;
  } finally {
    await r.close();
  }
}

export type XvaPart = 'tar headers' | 'ova.xml' | 'chunk data' | 'chunk checksums' | 'padding and end';

/** The parts of a plain XVA (a tar), walked header by header. */
export async function xvaParts(file: string): Promise<Record<XvaPart, Ranges>> {
  const bytes = await fs.readFile(file);
  const parts: Record<XvaPart, Ranges> = {
    'tar headers': [],
    'ova.xml': [],
    'chunk data': [],
    'chunk checksums': [],
    'padding and end': [],
  };
  let at = 0;
  while (at + 512 <= bytes.length && bytes.subarray(at, at + 512).some((b) => b !== 0)) {
    const name = bytes.toString('latin1', at, at + 100).replace(/\0.*$/s, '');
    const size = parseInt(
      bytes
        .toString('latin1', at + 124, at + 136)
        .replace(/\0.*$/s, '')
        .trim(),
      8,
    );
    const data = at + 512;
    const padded = data + Math.ceil(size / 512) * 512;
    parts['tar headers'].push([at, data]);
    const kind: XvaPart =
      name === 'ova.xml' ? 'ova.xml' : /\.(xxhash|checksum)$/.test(name) ? 'chunk checksums' : 'chunk data';
    if (size > 0) parts[kind].push([data, data + size]);
    if (padded > data + size) parts['padding and end'].push([data + size, padded]);
    at = padded;
  }
  parts['padding and end'].push([at, bytes.length]);
  return parts;
}

/** The bytes of [0, size) in none of the ranges. */
function complement(ranges: Ranges, size: number): Ranges {
  const out: Ranges = [];
  let at = 0;
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    if (a > at) out.push([at, a]);
    at = Math.max(at, b);
  }
  if (at < size) out.push([at, size]);
  return out;
}
