import { execFileSync } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { readVhdChain, VhdChainReader } from '../../src-main/formats/vhd/vhd-chain-reader.js';
import { VhdChainError, VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import { VhdFileWriter } from '../../src-main/formats/vhd/vhd-file-writer.js';
import { writeVhdStreamToFile } from '../../src-main/formats/vhd/vhd-stream-to-file.js';
import { asChainProblem } from '../../src-main/repository/vhd-chain-problem.js';
import type { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { vhdExport } from '../../src-sim/formats/vhd-export.js';
import { collect, hasQemu, virtualDisks } from '../helpers/vhd-fixtures.js';

// A full VHD and the differencing VHDs after it, stored from the simulator's host streams, must read back as
// the raw disk at each point; broken links must be refused before any data is read, naming the file.

const MiB = 1024 * 1024;
const uuid = (n: number) => `8c3d9e4f-0000-4000-8000-${String(n).padStart(12, '0')}`;
const vd = virtualDisks('sluice-vhd-chain-');

interface Point {
  file: string;
  snapshot: VirtualDisk;
}

/** A full point and `deltas` incremental points of one disk, as an incremental backup would store them. */
async function makeChain(
  name: string,
  size: number,
  seed: number,
  deltas: number,
  allocatedFraction = 0.4,
): Promise<Point[]> {
  const disk = vd.newDisk(size, seed, allocatedFraction);
  const points: Point[] = [];
  for (let i = 0; i <= deltas; i++) {
    if (i > 0) disk.guestWrite(0.05, seed + i);
    const snapshot = vd.keep(disk.snapshot());
    const file = join(vd.dir, `${name}-${i}.vhd`);
    const prev = points[i - 1];
    const stream = prev
      ? vhdExport(snapshot, {
          uuid: uuid(seed * 10 + i),
          base: prev.snapshot,
          parentUuid: uuid(seed * 10 + i - 1),
          parentName: `${name}-${i - 1}.vhd`,
        })
      : vhdExport(snapshot, { uuid: uuid(seed * 10 + i) });
    await writeVhdStreamToFile(stream, file);
    points.push({ file, snapshot });
  }
  return points;
}

describe('VhdChainReader', () => {
  it.each([
    ['20 MiB', 20 * MiB, 31],
    ['17 MiB + 1.5 KiB (not 2 MiB-aligned)', 17 * MiB + 3 * 512, 32],
  ])('reads a %s full + 2 differencing chain as the raw disk at each point', async (_label, size, seed) => {
    const points = await makeChain(`c${seed}`, size, seed, 2);
    for (let i = 0; i < points.length; i++) {
      const expected = await collect(rawExport(points[i]!.snapshot));
      const pieces: Buffer[] = [];
      for await (const piece of readVhdChain(points.slice(0, i + 1).map((p) => p.file))) pieces.push(piece);
      expect(pieces.every((p) => p.length <= 2 * MiB)).toBe(true);
      const got = Buffer.concat(pieces);
      expect(got.length).toBe(size);
      expect(got.equals(expected)).toBe(true);
    }
    // The deltas really changed something, so a reader that ignored children would fail above.
    const first = await collect(rawExport(points[0]!.snapshot));
    expect(first.equals(await collect(rawExport(points[2]!.snapshot)))).toBe(false);
  });

  it('honours sector bitmaps: unmarked sectors of a child fall through to its parent', async () => {
    const base = join(vd.dir, 'bm-0.vhd');
    const child = join(vd.dir, 'bm-1.vhd');
    const w0 = await VhdFileWriter.create(base, { currentSize: 4 * MiB, uuid: uuid(1) });
    await w0.writeBlock(0, Buffer.alloc(2 * MiB, 0x11));
    // Only sectors 0-3 of this dynamic block are marked: the rest reads as zeros.
    const partial = Buffer.alloc(512);
    partial[0] = 0xf0;
    await w0.writeBlock(1, Buffer.alloc(2 * MiB, 0x33), partial);
    await w0.finish();
    const w1 = await VhdFileWriter.create(child, {
      currentSize: 4 * MiB,
      uuid: uuid(2),
      parent: { uuid: uuid(1), name: 'bm-0.vhd' },
    });
    const bitmap = Buffer.alloc(512);
    bitmap[0] = 0b1000_0001; // sectors 0 and 7
    bitmap[511] = 0x01; // the block's last sector
    await w1.writeBlock(0, Buffer.alloc(2 * MiB, 0x22), bitmap);
    await w1.finish();

    const got = await collect(readVhdChain([base, child]));
    const expected = Buffer.alloc(4 * MiB);
    expected.fill(0x11, 0, 2 * MiB);
    expected.fill(0x22, 0, 512);
    expected.fill(0x22, 7 * 512, 8 * 512);
    expected.fill(0x22, 2 * MiB - 512, 2 * MiB);
    expected.fill(0x33, 2 * MiB, 2 * MiB + 4 * 512);
    expect(got.equals(expected)).toBe(true);
  });

  it.skipIf(!hasQemu)('reads a VHD that qemu-img wrote (its own layout and bitmaps)', async () => {
    const raw = Buffer.alloc(9 * MiB);
    for (let i = 0; i < raw.length; i += 3 * MiB + 4096 + 7 * 512) raw.fill((i % 251) + 1, i, i + 70_000);
    const rawFile = join(vd.dir, 'q.raw');
    const vhd = join(vd.dir, 'q.vhd');
    await writeFile(rawFile, raw);
    execFileSync('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'vpc',
      '-o',
      'subformat=dynamic,force_size=on',
      rawFile,
      vhd,
    ]);
    const chain = await VhdChainReader.open([vhd]);
    expect(chain.size).toBe(raw.length);
    const got = await collect(chain.read());
    await chain.close();
    expect(got.equals(raw)).toBe(true);
  });

  it('refuses a child whose parent uuid is not its parent file, naming the file', async () => {
    const a = await makeChain('wa', 8 * MiB, 41, 1);
    const b = await makeChain('wb', 8 * MiB, 42, 1);
    const err = await VhdChainReader.open([a[0]!.file, b[1]!.file]).catch((e: unknown) => e);
    // formats/ says what is wrong; the repository, which knows this is a backup chain, says what to do.
    expect(err).toBeInstanceOf(VhdChainError);
    expect(err).not.toBeInstanceOf(SluiceError);
    expect(err).toMatchObject({ file: b[1]!.file, problem: 'broken' });
    const mapped = asChainProblem(err);
    expect(mapped).toBeInstanceOf(SluiceError);
    expect(mapped).toMatchObject({
      code: 'REMOTE_ERROR',
      message: (err as Error).message,
      context: { file: b[1]!.file, phase: 'read VHD chain' },
    });
    const message = (err as Error).message;
    expect(message).toContain(`${b[1]!.file} is a child of VHD ${uuid(420)} ("wb-0.vhd")`);
    expect(message).toContain(`${a[0]!.file}, is VHD ${uuid(410)}`);
    expect((mapped as SluiceError).hint).toMatch(/full backup/);
  });

  it('refuses a chain that starts with a differencing file or continues with a full one', async () => {
    const c = await makeChain('sd', 8 * MiB, 43, 1);
    await expect(VhdChainReader.open([c[1]!.file])).rejects.toThrow(
      `${c[1]!.file} is a differencing VHD but starts the chain`,
    );
    await expect(VhdChainReader.open([c[0]!.file, c[0]!.file])).rejects.toThrow(
      /is a full \(dynamic\) VHD, so it cannot continue the chain/,
    );
  });

  it('refuses a file with a damaged footer checksum, naming the file and offset', async () => {
    const c = await makeChain('df', 8 * MiB, 44, 0);
    const bytes = await readFile(c[0]!.file);
    const footerAt = bytes.length - 512;
    const handle = await open(c[0]!.file, 'r+');
    await handle.write(Buffer.from([bytes[footerAt + 100]! ^ 0xff]), 0, 1, footerAt + 100);
    await handle.close();
    const err = await VhdChainReader.open([c[0]!.file]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VhdFormatError);
    expect(err).toMatchObject({ damage: 'footer', offset: footerAt, source: c[0]!.file });
    expect((err as Error).message).toMatch(
      new RegExp(`^${c[0]!.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: footer checksum`),
    );
  });

  it('refuses a truncated file whose BAT points past its end', async () => {
    const c = await makeChain('tr', 8 * MiB, 45, 0, 0.9);
    const bytes = await readFile(c[0]!.file);
    expect(bytes.length).toBeGreaterThan(2 * MiB);
    // Cut the last block in half and put the footer back, as a copy interrupted and "repaired" might.
    const cut = Buffer.concat([bytes.subarray(0, bytes.length - 512 - MiB), bytes.subarray(bytes.length - 512)]);
    await writeFile(c[0]!.file, cut);
    await expect(VhdChainReader.open([c[0]!.file])).rejects.toMatchObject({ damage: 'bat', source: c[0]!.file });
  });
});
