import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import { decodeParentLocator, encodeParentLocators } from '../../src-main/formats/vhd/vhd-parent-locator.js';
import {
  batSize,
  bitmapSize,
  chsGeometry,
  decodeBat,
  decodeFooter,
  decodeHeader,
  DiskType,
  encodeBat,
  encodeFooter,
  encodeHeader,
  vhdChecksum,
  vhdTimestamp,
} from '../../src-main/formats/vhd/vhd-structures.js';
import { hasQemu } from '../helpers/vhd-fixtures.js';

// The structures are checked against the spec's numbers and against qemu-img, which writes its own VHDs with
// the spec's CHS algorithm: our geometry for qemu's size must be qemu's geometry.

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const UUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-vhd-structures-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('VHD footer', () => {
  it('round-trips every field and carries a valid checksum', () => {
    const buf = encodeFooter({
      currentSize: 13 * MiB + 2560,
      diskType: DiskType.Differencing,
      uuid: UUID,
      timestamp: 1234,
      creatorApp: 'caml',
    });
    expect(buf.length).toBe(512);
    expect(buf.toString('latin1', 0, 8)).toBe('conectix');
    expect(buf.readUInt32BE(64)).toBe(vhdChecksum(buf, 64));
    const f = decodeFooter(buf, { offset: 0 });
    expect(f).toMatchObject({
      currentSize: 13 * MiB + 2560,
      originalSize: 13 * MiB + 2560,
      diskType: DiskType.Differencing,
      uuid: UUID,
      timestamp: 1234,
      creatorApp: 'caml',
      dataOffset: 512,
      features: 2,
      geometry: chsGeometry(13 * MiB + 2560),
    });
  });

  it('rejects a damaged checksum, naming the source and offset', () => {
    const buf = encodeFooter({ currentSize: 8 * MiB, diskType: DiskType.Dynamic, uuid: UUID });
    buf[100] = 1;
    const err = catchError(() => decodeFooter(buf, { offset: 4096, source: 'x.vhd' }));
    expect(err).toBeInstanceOf(VhdFormatError);
    expect(err).toMatchObject({ damage: 'footer', offset: 4096, source: 'x.vhd' });
    expect(err.message).toMatch(/^x\.vhd: footer checksum .* damaged \(at byte 4096\)$/);
  });

  it('rejects a wrong cookie and an odd size', () => {
    const buf = encodeFooter({ currentSize: 8 * MiB, diskType: DiskType.Dynamic, uuid: UUID });
    buf.write('conectiy', 0, 'latin1');
    expect(() => decodeFooter(buf, { offset: 0 })).toThrow(/cookie is "conectiy"/);
    const odd = encodeFooter({ currentSize: 8 * MiB + 1, diskType: DiskType.Dynamic, uuid: UUID });
    expect(() => decodeFooter(odd, { offset: 0 })).toThrow(/not a whole number of sectors/);
  });

  it('counts time stamps from 2000-01-01 UTC', () => {
    expect(vhdTimestamp(new Date('2000-01-01T00:00:10Z'))).toBe(10);
    expect(vhdTimestamp(new Date('1999-01-01T00:00:00Z'))).toBe(0);
  });
});

describe('CHS geometry', () => {
  it('follows the spec algorithm at its thresholds', () => {
    expect(chsGeometry(8 * MiB)).toEqual({ cylinders: 240, heads: 4, sectorsPerTrack: 17 });
    // Past 65535×16×63 sectors the geometry saturates at 255 sectors a track.
    expect(chsGeometry(2040 * GiB)).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
  });

  // Without force_size qemu rounds the size to what its CHS geometry covers: our geometry for that size must
  // be qemu's (with force_size it writes the 65535/16/255 marker instead).
  it.skipIf(!hasQemu).each([8 * MiB, 13 * MiB + 2560, 40 * MiB, GiB, 100 * GiB])(
    'matches qemu-img for %i bytes',
    async (size) => {
      const file = join(dir, `q-${size}.vhd`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', file, String(size)]);
      const bytes = await readFile(file);
      const footer = decodeFooter(bytes.subarray(bytes.length - 512), { offset: bytes.length - 512, source: file });
      expect(footer.creatorApp).toMatch(/^qem/);
      expect(Math.abs(footer.currentSize - size)).toBeLessThan(size / 100);
      expect(footer.geometry).toEqual(chsGeometry(footer.currentSize));
      // qemu's own header and BAT decode too.
      const header = decodeHeader(bytes.subarray(footer.dataOffset, footer.dataOffset + 1024), {
        offset: footer.dataOffset,
      });
      expect(header.maxTableEntries).toBe(Math.ceil(footer.currentSize / (2 * MiB)));
      const bat = decodeBat(bytes.subarray(header.tableOffset), header.maxTableEntries);
      expect([...bat].every((e) => e === 0xffffffff)).toBe(true);
    },
  );
});

describe('VHD dynamic header', () => {
  it('round-trips a differencing header with a non-ASCII parent name and locators', () => {
    const name = '20250101T020000Z-é.vhd';
    const { locators, data } = encodeParentLocators(name, 1536);
    const buf = encodeHeader({
      tableOffset: 2560,
      maxTableEntries: 7,
      parentUuid: UUID,
      parentName: name,
      parentTimestamp: 99,
      parentLocators: locators,
    });
    const h = decodeHeader(buf, { offset: 512 });
    expect(h).toMatchObject({
      tableOffset: 2560,
      maxTableEntries: 7,
      blockSize: 2 * MiB,
      parentUuid: UUID,
      parentName: name,
      parentTimestamp: 99,
    });
    expect(h.parentLocators.map((l) => l.platformCode)).toEqual(['W2ru', 'MacX']);
    for (const l of h.parentLocators) {
      const at = l.dataOffset - 1536;
      expect(decodeParentLocator(l.platformCode, data.subarray(at, at + l.dataLength))).toBe(name);
    }
    expect(data.subarray(512, 512 + locators[1]!.dataLength).toString('utf8')).toBe(`file://./${encodeURI(name)}`);
  });

  it('rejects a damaged header checksum', () => {
    const buf = encodeHeader({ tableOffset: 2048, maxTableEntries: 4 });
    buf.writeUInt8(buf.readUInt8(700) ^ 0xff, 700);
    expect(() => decodeHeader(buf, { offset: 512, source: 's' })).toThrow(
      /^s: dynamic header checksum .*\(at byte 512\)$/,
    );
  });

  it('sizes bitmaps and BATs in whole sectors', () => {
    expect(bitmapSize(2 * MiB)).toBe(512);
    expect(batSize(7)).toBe(512);
    expect(batSize(129)).toBe(1024);
    const bat = new Uint32Array([5, 0xffffffff, 4101]);
    const enc = encodeBat(bat);
    expect(enc.length).toBe(512);
    expect(enc.subarray(12).every((b) => b === 0xff)).toBe(true);
    expect([...decodeBat(enc, 3)]).toEqual([...bat]);
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
