import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import { VhdFileWriter } from '../../src-main/formats/vhd/vhd-file-writer.js';
import { decodeParentLocator } from '../../src-main/formats/vhd/vhd-parent-locator.js';
import { writeVhdStreamToFile } from '../../src-main/formats/vhd/vhd-stream-to-file.js';
import { decodeFooter, decodeHeader, DiskType } from '../../src-main/formats/vhd/vhd-structures.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { vhdExport } from '../../src-sim/formats/vhd-export.js';
import { collect, hasQemu, qemuVhdToRaw, virtualDisks } from '../helpers/vhd-fixtures.js';

// Host stream → VhdStreamReader → VhdFileWriter → file, checked by qemu-img: the file must open as vpc and
// convert to exactly the bytes of the raw export. qemu sizes a VHD whose creator it does not know by its CHS
// geometry (a little under current_size), hence force_size_calc=current_size.

const MiB = 1024 * 1024;
const BASE_UUID = '7b2c8d3e-0000-4000-8000-000000000001';
const CHILD_UUID = '7b2c8d3e-0000-4000-8000-000000000002';
const vd = virtualDisks('sluice-vhd-writer-');
const newDisk = vd.newDisk;

function qemuToRaw(vhd: string): Buffer {
  return readFileSync(qemuVhdToRaw(vhd));
}

function qemuInfo(vhd: string): { format: string; 'virtual-size': number; 'backing-filename'?: string } {
  return JSON.parse(execFileSync('qemu-img', ['info', '-f', 'vpc', '--output=json', vhd], { encoding: 'utf8' }));
}

describe.skipIf(!hasQemu)('VhdFileWriter checked by qemu-img', () => {
  it.each([
    ['8 MiB', 8 * MiB, 21],
    ['13 MiB + 2.5 KiB (not 2 MiB-aligned)', 13 * MiB + 5 * 512, 22],
    ['40 MiB', 40 * MiB, 23],
  ])('stores a %s host stream that qemu converts to the raw export', async (_label, size, seed) => {
    const disk = newDisk(size, seed);
    const file = join(vd.dir, `full-${seed}.vhd`);
    const result = await writeVhdStreamToFile(vhdExport(disk, { uuid: BASE_UUID }), file);
    expect(result.footer).toMatchObject({ uuid: BASE_UUID, currentSize: size, creatorApp: 'caml' });
    expect(result.bytes).toBe((await readFile(file)).length);
    // Same layout and footer as the host's: a full VHD is the host stream byte for byte.
    expect((await readFile(file)).equals(await collect(vhdExport(disk, { uuid: BASE_UUID })))).toBe(true);

    const info = qemuInfo(file);
    expect(info.format).toBe('vpc');
    const raw = await collect(rawExport(disk));
    const converted = qemuToRaw(file);
    expect(converted.length).toBe(size);
    expect(converted.equals(raw)).toBe(true);
  });

  it('writes a differencing file with parent locators; qemu opens it but does not follow the parent', async () => {
    const disk = newDisk(12 * MiB, 24, 0.6);
    const base = vd.keep(disk.snapshot());
    disk.guestWrite(0.05);
    const child = vd.keep(disk.snapshot());
    const file = join(vd.dir, 'child.vhd');
    await writeVhdStreamToFile(
      vhdExport(child, { uuid: CHILD_UUID, base, parentUuid: BASE_UUID, parentName: 'whatever-the-host-said' }),
      file,
      {
        parentName: '20250101T020000Z.vhd',
        expectedParentUuid: BASE_UUID,
      },
    );
    const bytes = await readFile(file);
    const footer = decodeFooter(bytes.subarray(bytes.length - 512), { offset: bytes.length - 512 });
    expect(footer.diskType).toBe(DiskType.Differencing);
    expect(bytes.subarray(0, 512).equals(bytes.subarray(bytes.length - 512))).toBe(true);
    const header = decodeHeader(bytes.subarray(512, 1536), { offset: 512 });
    expect(header.parentUuid).toBe(BASE_UUID);
    expect(header.parentName).toBe('20250101T020000Z.vhd');
    const names = header.parentLocators.map((l) =>
      decodeParentLocator(l.platformCode, bytes.subarray(l.dataOffset, l.dataOffset + l.dataLength)),
    );
    expect(names).toEqual(['20250101T020000Z.vhd', '20250101T020000Z.vhd']);

    // qemu's vpc driver has no backing-file support: it reads a differencing VHD as if it were dynamic, so
    // blocks the child lacks come out as zeros. The chain is checked with VhdChainReader instead.
    const info = qemuInfo(file);
    expect(info['backing-filename']).toBeUndefined();
    const converted = qemuToRaw(file);
    const childRaw = await collect(rawExport(child));
    expect(converted.length).toBe(childRaw.length);
    expect(converted.equals(childRaw)).toBe(false);
  });

  it('refuses a stream whose parent is not the expected one, leaving no file', async () => {
    const disk = newDisk(8 * MiB, 25);
    const base = vd.keep(disk.snapshot());
    disk.guestWrite(0.05);
    const file = join(vd.dir, 'wrong-parent.vhd');
    await expect(
      writeVhdStreamToFile(
        vhdExport(disk, { uuid: CHILD_UUID, base, parentUuid: BASE_UUID, parentName: 'p.vhd' }),
        file,
        {
          expectedParentUuid: CHILD_UUID,
        },
      ),
    ).rejects.toThrow(`differencing stream has parent ${BASE_UUID}, expected ${CHILD_UUID}`);
    await expect(access(file)).rejects.toThrow();
  });

  it('deletes the partial file when the stream is truncated', async () => {
    const disk = newDisk(8 * MiB, 26);
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const file = join(vd.dir, 'cut.vhd');
    async function* cut(): AsyncGenerator<Buffer> {
      yield stream.subarray(0, stream.length - 4096);
    }
    await expect(writeVhdStreamToFile(cut(), file, { source: 'host stream of VDI cut' })).rejects.toThrow(
      /^host stream of VDI cut: VHD ended after/,
    );
    await expect(access(file)).rejects.toThrow();
  });
});

describe('VhdFileWriter API', () => {
  it('pads a short last block, and refuses blocks out of order or out of range', async () => {
    const file = join(vd.dir, 'api.vhd');
    const writer = await VhdFileWriter.create(file, { currentSize: 5 * MiB, uuid: BASE_UUID });
    await writer.writeBlock(1, Buffer.alloc(2 * MiB, 1));
    await expect(writer.writeBlock(1, Buffer.alloc(1))).rejects.toThrow(/increasing order/);
    await expect(writer.writeBlock(3, Buffer.alloc(1))).rejects.toThrow(VhdFormatError);
    await writer.writeBlock(2, Buffer.alloc(1 * MiB, 2));
    const summary = await writer.finish();
    expect(summary.blocks).toBe(2);
    const bytes = await readFile(file);
    expect(bytes.length).toBe(summary.bytes);
    // footer copy + header + empty locator sector + BAT (1 sector) + 2 × (bitmap + block) + footer
    expect(summary.bytes).toBe(512 + 1024 + 512 + 512 + 2 * (512 + 2 * MiB) + 512);
    if (hasQemu) {
      const raw = qemuToRaw(file);
      expect(raw.subarray(0, 2 * MiB).every((b) => b === 0)).toBe(true);
      expect(raw.subarray(2 * MiB, 4 * MiB).every((b) => b === 1)).toBe(true);
      expect(raw.subarray(4 * MiB).every((b) => b === 2)).toBe(true);
    }
  });

  it('refuses a size that is not whole sectors and an existing file', async () => {
    await expect(VhdFileWriter.create(join(vd.dir, 'odd.vhd'), { currentSize: 1000, uuid: BASE_UUID })).rejects.toThrow(
      /512-byte sectors/,
    );
    await expect(access(join(vd.dir, 'odd.vhd'))).rejects.toThrow();
    const file = join(vd.dir, 'exists.vhd');
    await (await VhdFileWriter.create(file, { currentSize: 2 * MiB, uuid: BASE_UUID })).finish();
    await expect(VhdFileWriter.create(file, { currentSize: 2 * MiB, uuid: BASE_UUID })).rejects.toThrow(/EEXIST/);
  });
});

describe.skipIf(!hasQemu)('a VHD Sluice makes on its own, in plain qemu-img', () => {
  // None of these sizes is a whole CHS geometry: qemu must take current_size, which it does for "tap\0".
  it.each([48 * MiB, 12 * MiB + 512 * 1024, 13 * MiB + 5 * 512])('reads at exactly %i bytes', async (size) => {
    const file = join(vd.dir, `own-${size}.vhd`);
    const writer = await VhdFileWriter.create(file, { currentSize: size, uuid: BASE_UUID });
    await writer.writeBlock(0, Buffer.alloc(2 * MiB, 7));
    await writer.finish();
    const bytes = await readFile(file);
    expect(decodeFooter(bytes.subarray(0, 512), { offset: 0 }).creatorApp).toBe('tap\0');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as {
      'virtual-size': number;
    };
    expect(info['virtual-size']).toBe(size);
    const raw = join(vd.dir, `own-${size}.raw`);
    execFileSync('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', file, raw]);
    const converted = await readFile(raw);
    expect(converted.length).toBe(size);
    expect(converted.subarray(0, 2 * MiB).every((b) => b === 7)).toBe(true);
    expect(converted.subarray(2 * MiB).every((b) => b === 0)).toBe(true);
  });
});
