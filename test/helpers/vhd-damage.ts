import { promises as fs } from 'node:fs';
import { expect } from 'vitest';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { VhdFileReader } from '../../src-main/formats/vhd/vhd-file-reader.js';
import { FOOTER_SIZE, vhdChecksum } from '../../src-main/formats/vhd/vhd-structures.js';
import { deltaPointDisks } from '../../src-main/repository/point-disks.js';
import type { BackupPoint } from '../../src-main/repository/repository-reader.js';

// Damage done to repository files as failing storage, a careless copy or a hostile hand would do it.

/**
 * Flips one bit in place (bit 4 unless `bit` says which, 0–7; flipping it again undoes it). By default as
 * failing storage would: the file's size and modification time unchanged; `touch` also moves the mtime, as
 * any later write or copy would.
 */
export async function flipBit(
  file: string,
  offset: number,
  opts: { touch?: boolean; bit?: number } = {},
): Promise<void> {
  const st = await fs.stat(file);
  const h = await fs.open(file, 'r+');
  const b = Buffer.alloc(1);
  await h.read(b, 0, 1, offset);
  b[0] = b[0]! ^ (1 << (opts.bit ?? 4));
  await h.write(b, 0, 1, offset);
  await h.close();
  if (opts.touch) {
    const later = new Date(st.mtimeMs + 120_000);
    await fs.utimes(file, later, later);
  } else await fs.utimes(file, st.atime, st.mtime);
}

/** The SluiceError a promise rejects with (the test fails if it resolves, or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  throw new Error('expected a failure');
}

/** The point's own VHD of disk `position` (0 by default), and the byte where its first stored block starts. */
export async function pointFile(
  point: BackupPoint,
  disk = 0,
): Promise<{ file: string; block: number; at: number; reader: VhdFileReader }> {
  const d = (await deltaPointDisks(point))[disk]!;
  const file = d.chain.at(-1)!;
  const reader = await VhdFileReader.open(file);
  const block = [...reader.bat.keys()].find((i) => reader.hasBlock(i))!;
  return { file, block, at: reader.bat[block]! * 512, reader };
}

/**
 * Sets the disk size a VHD's footer claims, at both places it is stored, with the checksum recomputed: the
 * file stays structurally valid, only the size is a lie.
 */
export async function patchFooterSize(file: string, size: number): Promise<void> {
  const h = await fs.open(file, 'r+');
  try {
    const { size: length } = await h.stat();
    const footer = Buffer.alloc(FOOTER_SIZE);
    await h.read(footer, 0, FOOTER_SIZE, length - FOOTER_SIZE);
    footer.writeBigUInt64BE(BigInt(size), 48);
    footer.writeUInt32BE(vhdChecksum(footer, 64), 64);
    await h.write(footer, 0, FOOTER_SIZE, length - FOOTER_SIZE);
    await h.write(footer, 0, FOOTER_SIZE, 0);
  } finally {
    await h.close();
  }
}
