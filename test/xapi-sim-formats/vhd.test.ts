import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { vhdExport } from '../../src-sim/formats/vhd-export.js';
import { importVhd } from '../../src-sim/formats/vhd-import.js';
import { decodeFooter, decodeHeader, VhdFormatError } from '../../src-sim/formats/vhd-structures.js';
import { collect, fromBuffer, makeTempDir, run, toFile, vpcImageOpts } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(async () => cleanup());

const MiB = 1024 * 1024;
const BASE_UUID = '3c2e1d6a-7f41-4a55-9d0e-0b7a9b1f2c11';
const CHILD_UUID = '9d0e7f41-3c2e-4a55-8b1f-2c110b7a9b1f';

describe('vhdExport', () => {
  for (const size of [40 * MiB, 41 * MiB + 1536, 70 * MiB - 512]) {
    it(`is read by qemu-img as the raw disk (${size} bytes)`, async () => {
      const disk = new VirtualDisk({ size, seed: size % 1000, backingDir: dir });
      const vhd = join(dir, `d${size}.vhd`);
      const raw = join(dir, `d${size}.raw`);
      await toFile(vhdExport(disk, { uuid: BASE_UUID }), vhd);
      await toFile(rawExport(disk), raw);

      const info = JSON.parse(await run('qemu-img', ['info', '-f', 'vpc', '--output=json', vhd])) as {
        format: string;
        'virtual-size': number;
      };
      expect(info.format).toBe('vpc');
      // Without the option qemu trusts the CHS geometry, which rounds down.
      expect(info['virtual-size']).toBeLessThanOrEqual(size);
      const out = join(dir, `d${size}.out`);
      await run('qemu-img', ['convert', '--image-opts', vpcImageOpts(vhd), '-O', 'raw', out]);
      expect((await readFile(out)).equals(await readFile(raw))).toBe(true);
      await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', raw, out]);

      // Layout of the vhd-tool stream.
      const bytes = await readFile(vhd);
      const footer = decodeFooter(bytes.subarray(0, 512));
      expect(footer).toMatchObject({
        creatorApp: 'caml',
        currentSize: size,
        originalSize: size,
        diskType: 3,
        uuid: BASE_UUID,
        dataOffset: 512n,
      });
      expect(bytes.subarray(bytes.length - 512).equals(bytes.subarray(0, 512))).toBe(true);
      const header = decodeHeader(bytes.subarray(512, 1536), 512);
      expect(header).toMatchObject({
        tableOffset: 2048,
        maxTableEntries: Math.ceil(size / (2 * MiB)),
        blockSize: 2 * MiB,
      });
      expect(bytes.subarray(1536, 2048).every((x) => x === 0)).toBe(true);
      const batEnd = 2048 + Math.ceil((header.maxTableEntries * 4) / 512) * 512;
      let expected = batEnd;
      for (let b = 0; b < header.maxTableEntries; b++) {
        const sector = bytes.readUInt32BE(2048 + b * 4);
        let any = false;
        for (let c = b * 32; c < Math.min(disk.clusterCount, b * 32 + 32); c++) any ||= disk.isClusterAllocated(c);
        expect(sector === 0xffffffff).toBe(!any);
        if (sector === 0xffffffff) continue;
        expect(sector * 512).toBe(expected);
        expect(bytes.subarray(expected, expected + 512).every((x) => x === 0xff)).toBe(true);
        expected += 512 + 2 * MiB;
      }
      expect(bytes.length).toBe(expected + 512);
      await disk.destroy();
    });
  }

  it('writes a differencing VHD that overlays its parent to the new content', async () => {
    const disk = new VirtualDisk({ size: 50 * MiB + 512, seed: 77, backingDir: dir });
    const base = disk.snapshot();
    disk.guestWrite(0.01);
    const parentName = 'base-3c2e1d6a.vhd';
    await toFile(vhdExport(base, { uuid: BASE_UUID }), join(dir, parentName));
    const child = join(dir, 'child.vhd');
    await toFile(vhdExport(disk, { uuid: CHILD_UUID, base, parentUuid: BASE_UUID, parentName }), child);

    const bytes = await readFile(child);
    expect(decodeFooter(bytes.subarray(0, 512))).toMatchObject({ diskType: 4, uuid: CHILD_UUID });
    const header = decodeHeader(bytes.subarray(512, 1536), 512);
    expect(header).toMatchObject({ parentUuid: BASE_UUID, parentName });
    expect(header.parentLocators).toEqual([
      { platformCode: 0x4d616358, dataSpace: 512, dataLength: `file://${parentName}`.length, dataOffset: 1536 },
    ]);

    // qemu's vpc driver does not follow VHD parents: it reads the child alone (absent blocks as zeros) and
    // maps which blocks it holds; laying those over the parent must give the new disk.
    const childRaw = join(dir, 'child-only.raw');
    await run('qemu-img', ['convert', '--image-opts', vpcImageOpts(child), '-O', 'raw', childRaw]);
    const parentRaw = join(dir, 'parent.raw');
    await run('qemu-img', ['convert', '--image-opts', vpcImageOpts(join(dir, parentName)), '-O', 'raw', parentRaw]);
    const map = JSON.parse(
      await run('qemu-img', ['map', '--output=json', '--image-opts', vpcImageOpts(child)]),
    ) as Array<{ start: number; length: number; data: boolean }>;
    const composed = await readFile(parentRaw);
    const own = await readFile(childRaw);
    let overlaid = 0;
    for (const extent of map) {
      if (!extent.data) continue;
      own.copy(composed, extent.start, extent.start, extent.start + extent.length);
      overlaid += extent.length;
    }
    const expected = await collect(rawExport(disk));
    expect(composed.equals(expected)).toBe(true);
    expect(overlaid).toBeLessThan(disk.size / 2);
    const composedPath = join(dir, 'composed.raw');
    const expectedPath = join(dir, 'expected.raw');
    await toFile(fromBuffer(composed), composedPath);
    await toFile(fromBuffer(expected), expectedPath);
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', composedPath, expectedPath]);

    // And our importer applies the child onto a copy of the base.
    const target = base.snapshot();
    await importVhd(target, fromBuffer(bytes, 300_000));
    expect((await collect(rawExport(target))).equals(expected)).toBe(true);
    await Promise.all([disk.destroy(), base.destroy(), target.destroy()]);
  });
});

describe('importVhd', () => {
  it('round-trips a vhd-tool stream into a fresh disk', async () => {
    const disk = new VirtualDisk({ size: 45 * MiB + 4096, seed: 12, backingDir: dir });
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const fresh = new VirtualDisk({ size: disk.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    await importVhd(fresh, fromBuffer(stream, 65_537));
    expect((await collect(rawExport(fresh))).equals(await collect(rawExport(disk)))).toBe(true);
    await Promise.all([disk.destroy(), fresh.destroy()]);
  });

  it('reads an ordinary VHD file written by qemu-img (sparse bitmaps, its own layout)', async () => {
    const disk = new VirtualDisk({ size: 24 * MiB, seed: 13, backingDir: dir, allocatedFraction: 0.4 });
    // Sub-cluster data, so qemu allocates blocks whose bitmaps are only partly set.
    await disk.write(3 * MiB + 4096, Buffer.alloc(1024, 0x5a));
    const raw = join(dir, 'q.raw');
    const vhd = join(dir, 'q.vhd');
    await toFile(rawExport(disk), raw);
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, vhd]);
    const fresh = new VirtualDisk({ size: disk.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    await importVhd(fresh, fromBuffer(await readFile(vhd), 1 << 20));
    expect((await collect(rawExport(fresh))).equals(await readFile(raw))).toBe(true);
    await Promise.all([disk.destroy(), fresh.destroy()]);
  });

  it('rejects a truncated stream', async () => {
    const disk = new VirtualDisk({ size: 8 * MiB, seed: 14, backingDir: dir, allocatedFraction: 1 });
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const fresh = new VirtualDisk({ size: disk.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    await expect(importVhd(fresh, fromBuffer(stream.subarray(0, stream.length - 700)))).rejects.toBeInstanceOf(
      VhdFormatError,
    );
    await expect(importVhd(fresh, fromBuffer(stream.subarray(0, stream.length - 512)))).rejects.toThrow(/footer/);
    await Promise.all([disk.destroy(), fresh.destroy()]);
  });
});
