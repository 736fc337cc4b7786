import { SECTOR } from './vhd-structures.js';

// The sector bitmap in front of every stored block: one bit a sector, most significant bit first. In a
// differencing file a marked sector is the file's own and an unmarked one falls through to the parent; in a
// dynamic file an unmarked sector reads as zeros.

export function sectorMarked(bitmap: Buffer, sector: number): boolean {
  return ((bitmap[sector >> 3]! >> (7 - (sector & 7))) & 1) === 1;
}

/** Whether the first `sectors` bits are all set: the common case, where a block needs no sector-wise work. */
export function allSectorsMarked(bitmap: Buffer, sectors: number): boolean {
  const whole = sectors >> 3;
  for (let i = 0; i < whole; i++) if (bitmap[i] !== 0xff) return false;
  for (let s = whole * 8; s < sectors; s++) if (!sectorMarked(bitmap, s)) return false;
  return true;
}

/** A copy of `data` whose unmarked sectors are zeros, for readers (qemu) that ignore a dynamic file's bitmap. */
export function zeroUnmarkedSectors(bitmap: Buffer, data: Buffer, sectors: number): Buffer {
  const out = Buffer.from(data);
  for (let s = 0; s < sectors; s++) if (!sectorMarked(bitmap, s)) out.fill(0, s * SECTOR, (s + 1) * SECTOR);
  return out;
}

/** Lays a newer block over an older one in place: the sectors `bitmap` marks replace the old ones, bitmaps OR-ed. */
export function overlayMarkedSectors(
  under: { bitmap: Buffer; data: Buffer },
  bitmap: Buffer,
  data: Buffer,
  sectors: number,
): void {
  for (let s = 0; s < sectors; s++) {
    if (!sectorMarked(bitmap, s)) continue;
    data.copy(under.data, s * SECTOR, s * SECTOR, (s + 1) * SECTOR);
  }
  for (let b = 0; b < bitmap.length; b++) under.bitmap[b]! |= bitmap[b]!;
}
