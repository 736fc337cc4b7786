import { beforeAll, describe, expect, it } from 'vitest';
import { VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import {
  readVhdStream,
  VhdStreamReader,
  type VhdBlockEvent,
  type VhdHeaderEvent,
  type VhdStreamEvent,
} from '../../src-main/formats/vhd/vhd-stream-reader.js';
import { DiskType } from '../../src-main/formats/vhd/vhd-structures.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { vhdExport } from '../../src-sim/formats/vhd-export.js';
import { collect, virtualDisks } from '../helpers/vhd-fixtures.js';

// The reader is fed the simulator's /export_raw_vdi?format=vhd body (which mirrors vhd-tool's layout), whole and
// in pieces of random sizes, and must hand back exactly the blocks the raw export holds.

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const BASE_UUID = '6a1b7c2d-0000-4000-8000-000000000001';
const CHILD_UUID = '6a1b7c2d-0000-4000-8000-000000000002';
const vd = virtualDisks('sluice-vhd-stream-');
const newDisk = vd.newDisk;

/** Feeds `bytes` in pieces of 1..maxPiece bytes, as a socket might. */
function feedInPieces(bytes: Buffer, maxPiece: number, seed: number): VhdStreamEvent[] {
  const reader = new VhdStreamReader({ source: 'test stream' });
  const events: VhdStreamEvent[] = [];
  let state = seed >>> 0 || 1;
  for (let at = 0; at < bytes.length;) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const n = 1 + ((state >>> 0) % maxPiece);
    events.push(...reader.update(bytes.subarray(at, at + n)));
    at += n;
  }
  events.push(...reader.finish());
  return events;
}

function readAll(bytes: Buffer): VhdStreamEvent[] {
  const reader = new VhdStreamReader({ source: 'test stream' });
  return [...reader.update(bytes), ...reader.finish()];
}

function catchError(fn: () => unknown): VhdFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VhdFormatError) return err;
    throw err;
  }
  throw new Error('expected a VhdFormatError');
}

describe('VhdStreamReader on host streams', () => {
  it('yields header, the present blocks in order and end, matching the raw disk (non-2MiB-aligned size)', async () => {
    const size = 13 * MiB + 5 * 512;
    const disk = newDisk(size, 11);
    const raw = await collect(rawExport(disk));
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const events = readAll(stream);

    const header = events[0] as VhdHeaderEvent;
    expect(header.kind).toBe('header');
    expect(header.footer).toMatchObject({
      uuid: BASE_UUID,
      currentSize: size,
      diskType: DiskType.Dynamic,
      creatorApp: 'caml',
    });
    expect(header.header.maxTableEntries).toBe(7);
    expect(header.expectedBytes).toBe(stream.length);
    expect(events.at(-1)).toMatchObject({ kind: 'end', bytes: stream.length });

    const blocks = events.filter((e): e is VhdBlockEvent => e.kind === 'block');
    expect(blocks.length).toBe(header.presentBlocks);
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.map((b) => b.index)).toEqual([...blocks.map((b) => b.index)].sort((a, b) => a - b));
    const rebuilt = Buffer.alloc(7 * BLOCK);
    for (const b of blocks) {
      expect(b.bitmap.every((x) => x === 0xff)).toBe(true);
      expect(b.data.length).toBe(BLOCK);
      b.data.copy(rebuilt, b.index * BLOCK);
    }
    expect(rebuilt.subarray(0, size).equals(raw)).toBe(true);
    // The padding of the last, partial block is zero.
    expect(rebuilt.subarray(size).every((x) => x === 0)).toBe(true);
  });

  it('gives the same events whatever the chunking', async () => {
    const disk = newDisk(8 * MiB, 12);
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const whole = readAll(stream);
    for (const [maxPiece, seed] of [
      [700, 1],
      [70_000, 2],
      [3 * MiB, 3],
    ] as const) {
      const pieces = feedInPieces(stream, maxPiece, seed);
      expect(pieces.map((e) => e.kind)).toEqual(whole.map((e) => e.kind));
      pieces.forEach((e, i) => {
        if (e.kind === 'block') expect(e.data.equals((whole[i] as VhdBlockEvent).data)).toBe(true);
      });
    }
  });

  it('reads a differencing stream and exposes its parent', async () => {
    const disk = newDisk(10 * MiB, 13, 0.6);
    const base = vd.keep(disk.snapshot());
    disk.guestWrite(0.05);
    const child = vd.keep(disk.snapshot());
    const stream = await collect(
      vhdExport(child, { uuid: CHILD_UUID, base, parentUuid: BASE_UUID, parentName: 'base.vhd' }),
    );
    const events: VhdStreamEvent[] = [];
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let at = 0; at < stream.length; at += 100_000) yield stream.subarray(at, at + 100_000);
    }
    for await (const e of readVhdStream(pieces())) events.push(e);
    const header = events[0] as VhdHeaderEvent;
    expect(header.footer.diskType).toBe(DiskType.Differencing);
    expect(header.header.parentUuid).toBe(BASE_UUID);
    expect(header.header.parentName).toBe('base.vhd');
    // Only the blocks the guest wrote travel.
    const raw = await collect(rawExport(child));
    const blocks = events.filter((e): e is VhdBlockEvent => e.kind === 'block');
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.length).toBeLessThan(5);
    for (const b of blocks) expect(b.data.equals(raw.subarray(b.index * BLOCK, (b.index + 1) * BLOCK))).toBe(true);
  });

  it('reads an empty disk (no blocks: the footer follows the BAT)', async () => {
    const disk = newDisk(9 * MiB, 14, 0);
    const stream = await collect(vhdExport(disk, { uuid: BASE_UUID }));
    const events = readAll(stream);
    expect(events.map((e) => e.kind)).toEqual(['header', 'end']);
    expect((events[0] as VhdHeaderEvent).expectedBytes).toBe(stream.length);
  });
});

describe('VhdStreamReader on damaged streams', () => {
  let stream: Buffer;
  beforeAll(async () => {
    stream = await collect(vhdExport(newDisk(8 * MiB, 15), { uuid: BASE_UUID }));
  });

  it('rejects a corrupted footer checksum at byte 0', () => {
    const bad = Buffer.from(stream);
    bad.writeUInt8(bad.readUInt8(64) ^ 0x01, 64);
    const err = catchError(() => readAll(bad));
    expect(err).toMatchObject({ damage: 'footer', offset: 0, source: 'test stream' });
    expect(err.message).toMatch(/footer checksum .* damaged/);
  });

  it('rejects a corrupted trailing footer at its offset', () => {
    const bad = Buffer.from(stream);
    bad.writeUInt8(bad.readUInt8(bad.length - 512 + 70) ^ 0x01, bad.length - 512 + 70);
    const err = catchError(() => readAll(bad));
    expect(err).toMatchObject({ damage: 'footer', offset: stream.length - 512 });
  });

  it('rejects a damaged dynamic header at byte 512', () => {
    const bad = Buffer.from(stream);
    bad.writeUInt8(bad.readUInt8(512 + 30) ^ 0x10, 512 + 30);
    expect(catchError(() => readAll(bad))).toMatchObject({ damage: 'header', offset: 512 });
  });

  it('rejects a truncated stream, saying how much came and how much was due', () => {
    for (const cut of [100, 1800, 2048 + 512 + 1000, stream.length - 1]) {
      const reader = new VhdStreamReader({ source: 'host stream of VDI x' });
      reader.update(stream.subarray(0, cut));
      const err = catchError(() => reader.finish());
      expect(err).toMatchObject({ damage: 'truncated', offset: cut });
      expect(err.message).toContain(`ended after ${cut} bytes`);
      expect(err.message).toMatch(/^host stream of VDI x: /);
      if (cut > 2560) expect(err.message).toContain(`expected ${stream.length} bytes`);
    }
  });

  it('rejects bytes after the footer and a BAT entry pointing into the metadata', () => {
    expect(catchError(() => readAll(Buffer.concat([stream, Buffer.alloc(3)])))).toMatchObject({
      damage: 'trailing-data',
      offset: stream.length,
    });
    const bad = Buffer.from(stream);
    const first = bad.readUInt32BE(2048) === 0xffffffff ? 1 : 0;
    bad.writeUInt32BE(3, 2048 + first * 4);
    expect(catchError(() => readAll(bad))).toMatchObject({ damage: 'bat', offset: 2048 + first * 4 });
  });

  it('keeps failing once failed', () => {
    const bad = Buffer.from(stream);
    bad[0] = 0;
    const reader = new VhdStreamReader();
    expect(() => reader.update(bad)).toThrow(VhdFormatError);
    expect(() => reader.update(Buffer.alloc(1))).toThrow(/cookie/);
    expect(() => reader.finish()).toThrow(/cookie/);
  });
});
