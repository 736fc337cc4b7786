import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import xxhash from 'xxhash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XvaStreamVerifier, XvaVerifyError, type XvaSummary } from '../../src-main/formats/xva/xva-stream-verifier.js';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { buildOvaXml } from '../../src-sim/formats/ova-xml.js';
import { xvaExport, type XvaExportOptions } from '../../src-sim/formats/xva-export.js';
import { seededRandom } from '../helpers/seeded-random.js';

// The verifier is checked against the simulator's exporter (which mirrors xapi), fed in pieces of random
// sizes so that every header, checksum and padding boundary lands inside some piece sooner or later.

const MiB = 1024 * 1024;
const BLOCK = 512;

let backingDir: string;
const disks: VirtualDisk[] = [];
beforeAll(async () => {
  backingDir = await mkdtemp(join(tmpdir(), 'sluice-xva-verify-'));
});
afterAll(async () => {
  await Promise.all(disks.map((d) => d.destroy()));
  await rm(backingDir, { recursive: true, force: true });
});

const OVA = buildOvaXml({
  version: {
    hostname: 'sim',
    date: '2024-01-31',
    product_version: '8.2.1',
    product_brand: 'XCP-ng',
    build_number: 'sim',
    xapi_major: 1,
    xapi_minor: 20,
    export_vsn: 2,
  },
  objects: [
    { class: 'VM', id: 'Ref:0', snapshot: { uuid: 'vm', name_label: 'vm', power_state: 'Halted' } },
    { class: 'VDI', id: 'Ref:2', snapshot: { uuid: 'a', virtual_size: '1' } },
    { class: 'VDI', id: 'Ref:10', snapshot: { uuid: 'b', virtual_size: '1' } },
  ],
});

function disk(size: number, seed: number, allocatedFraction: number): VirtualDisk {
  const d = new VirtualDisk({ size, seed, allocatedFraction, backingDir });
  disks.push(d);
  return d;
}

async function exportXva(
  list: Array<{ ref: string; disk: VirtualDisk }>,
  opts: XvaExportOptions = {},
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of xvaExport(OVA, list, { keepaliveMs: 0, ...opts })) parts.push(piece);
  return Buffer.concat(parts);
}

/** Piece sizes from 1 byte to 3 MiB, log-uniform so that tiny pieces (split headers) are common. */
function randomPieces(buf: Buffer, seed: number): Buffer[] {
  const rand = seededRandom(seed);
  const pieces: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const size = Math.max(1, Math.floor(Math.exp(rand() * Math.log(3 * MiB))));
    pieces.push(buf.subarray(at, Math.min(buf.length, at + size)));
    at += size;
  }
  return pieces;
}

async function verify(buf: Buffer, seed = 1): Promise<XvaSummary> {
  const v = await XvaStreamVerifier.create();
  for (const piece of randomPieces(buf, seed)) v.update(piece);
  expect(v.bytesSeen).toBe(buf.length);
  return v.finish();
}

/** The error verify() ends with, wherever it is thrown (update or finish). */
async function failure(buf: Buffer, seed = 1): Promise<XvaVerifyError> {
  try {
    await verify(buf, seed);
  } catch (err) {
    expect(err).toBeInstanceOf(XvaVerifyError);
    return err as XvaVerifyError;
  }
  throw new Error('the damaged stream was accepted');
}

/** Byte offset of the tar header of entry `name` (names are NUL-terminated in the header). */
function headerOf(buf: Buffer, name: string): number {
  const at = buf.indexOf(Buffer.from(`${name}\0`, 'latin1'));
  if (at < 0 || at % BLOCK !== 0) throw new Error(`no entry ${name}`);
  return at;
}

function withFlippedBit(buf: Buffer, at: number, bit = 0): Buffer {
  const copy = Buffer.from(buf);
  copy[at]! ^= 1 << bit;
  return copy;
}

/** Chunks the host must write for a disk: first and last always, the others when not all zero. */
async function expectedChunks(d: VirtualDisk): Promise<{ chunks: number; dataBytes: number }> {
  let chunks = 0;
  let dataBytes = 0;
  for (let offset = 0; offset < d.size; offset += MiB) {
    const length = Math.min(MiB, d.size - offset);
    const data = await d.read(offset, length);
    if (offset === 0 || offset + length >= d.size || data.some((b) => b !== 0)) {
      chunks++;
      dataBytes += length;
    }
  }
  return { chunks, dataBytes };
}

describe('XvaStreamVerifier on good streams', () => {
  let sparse: VirtualDisk;
  let small: VirtualDisk;
  let xva: Buffer;
  beforeAll(async () => {
    sparse = disk(40 * MiB, 7, 0.4);
    small = disk(3 * MiB + 12_345, 8, 1);
    xva = await exportXva([
      { ref: 'Ref:2', disk: sparse },
      { ref: 'Ref:10', disk: small },
    ]);
  });

  it.each([1, 2, 3, 4])('accepts a two-disk export fed in random pieces (split %i) and summarises it', async (seed) => {
    const summary = await verify(xva, seed);
    expect(summary.ovaXml).toBe(OVA);
    expect(summary.totalBytes).toBe(xva.length);
    expect(summary.checksumAlgorithm).toBe('xxhash');
    expect(summary.ignoredEntries).toBe(0);
    // The host writes disks in the lexicographic order of their refs.
    expect(summary.disks.map((d) => d.ref)).toEqual(['Ref:10', 'Ref:2']);
    const [smallSummary, sparseSummary] = summary.disks;
    expect(smallSummary).toEqual({
      ref: 'Ref:10',
      chunks: 4,
      keepalives: 0,
      dataBytes: small.size,
      lastOffset: small.size,
    });
    expect(sparseSummary).toEqual({
      ref: 'Ref:2',
      keepalives: 0,
      lastOffset: sparse.size,
      ...(await expectedChunks(sparse)),
    });
    expect(sparseSummary!.chunks).toBeLessThan(40); // zero chunks were skipped, and the gaps still add up to the disk size
  });

  it('accepts the stream in one piece and byte by byte', async () => {
    const v = await XvaStreamVerifier.create();
    v.update(xva);
    expect(v.finish().disks).toHaveLength(2);

    const tiny = await exportXva([{ ref: 'Ref:1', disk: disk(MiB + 700, 9, 1) }]);
    const w = await XvaStreamVerifier.create();
    for (let i = 0; i < tiny.length; i++) w.update(tiny.subarray(i, i + 1));
    expect(w.finish().disks).toEqual([
      { ref: 'Ref:1', chunks: 2, keepalives: 0, dataBytes: MiB + 700, lastOffset: MiB + 700 },
    ]);
  });

  it('accepts .checksum (SHA-1) entries from old hosts', async () => {
    const d = disk(5 * MiB, 11, 0.6);
    const old = await exportXva([{ ref: 'Ref:4', disk: d }], { oldHost: true });
    expect(old.includes('Ref:4/00000000.checksum\0')).toBe(true);
    const summary = await verify(old, 5);
    expect(summary.checksumAlgorithm).toBe('checksum');
    expect(summary.disks[0]).toMatchObject({ ref: 'Ref:4', lastOffset: d.size });
  });

  it('accepts keepalive chunks and keeps disk offsets right across them', async () => {
    const d = disk(4 * MiB, 12, 1);
    // 40 MiB/s makes each chunk take 25 ms, so a 5 ms keepalive interval forces several keepalives.
    const slow = await exportXva([{ ref: 'Ref:3', disk: d }], { rateLimit: 40 * MiB, keepaliveMs: 5 });
    const summary = await verify(slow, 6);
    const [s] = summary.disks;
    expect(s!.keepalives).toBeGreaterThan(0);
    expect(s).toMatchObject({ chunks: 4, dataBytes: d.size, lastOffset: d.size });

    // Sparse: keepalives also fall next to skipped zero chunks, and both kinds of gap must add up.
    const sparse = disk(16 * MiB, 13, 0.4);
    const mixed = await exportXva([{ ref: 'Ref:3', disk: sparse }], { rateLimit: 20 * MiB, keepaliveMs: 5 });
    const [m] = (await verify(mixed, 7)).disks;
    expect(m!.keepalives).toBeGreaterThan(0);
    expect(m).toMatchObject({ ...(await expectedChunks(sparse)), lastOffset: sparse.size });
  });

  it('accepts a VM without disks, zero padding to a tar record, and ustar headers from other tools', async () => {
    const none = await exportXva([]);
    expect((await verify(none)).disks).toEqual([]);

    const padded = Buffer.concat([xva, Buffer.alloc(10 * 1024 - (xva.length % (10 * 1024)))]);
    expect((await verify(padded)).totalBytes).toBe(padded.length);

    const { h64Raw } = await xxhash();
    const data = Buffer.alloc(3000, 0x5a);
    const sum = h64Raw(data).toString(16).padStart(16, '0').toLowerCase(); // lowercase: compared case-insensitively
    const repacked = await packWithTarStream([
      { name: 'ova.xml', body: Buffer.from(OVA), pax: { comment: 'repacked' } },
      { name: 'Ref:5', type: 'directory' },
      { name: 'Ref:5/00000000', body: data },
      { name: 'Ref:5/00000000.xxhash', body: Buffer.from(sum) },
      { name: 'README', body: Buffer.from('not part of an export') },
      { name: `notes/${'n'.repeat(150)}`, body: Buffer.from('a name only a pax header can hold') },
    ]);
    const summary = await verify(repacked, 3);
    expect(summary.disks).toEqual([{ ref: 'Ref:5', chunks: 1, keepalives: 0, dataBytes: 3000, lastOffset: 3000 }]);
    expect(summary.ignoredEntries).toBe(3);
    expect(summary.ignoredEntryNames).toEqual(['Ref:5', 'README', `notes/${'n'.repeat(150)}`]);
  });

  it('accepts a header checksum summed over signed bytes, as some old tars wrote it', async () => {
    const { h64Raw } = await xxhash();
    const empty = h64Raw(Buffer.alloc(0)).toString(16).toUpperCase();
    expect(empty).toBe('EF46DB3751D8E999');
    const archive = Buffer.concat([
      v7Entry('ova.xml', Buffer.from(OVA)),
      v7Entry('Ref:1/00000000', Buffer.alloc(0)), // a keepalive: no data, yet a checksum
      v7Entry('Ref:1/00000000.xxhash', Buffer.from(empty)),
      v7Entry('caf\u00e9', Buffer.from('x'), { signedChecksum: true }),
      Buffer.alloc(2 * BLOCK),
    ]);
    const summary = await verify(archive);
    expect(summary.disks).toEqual([{ ref: 'Ref:1', chunks: 0, keepalives: 1, dataBytes: 0, lastOffset: 0 }]);
    expect(summary.ignoredEntryNames).toEqual(['caf\u00e9']);
  });
});

describe('XvaStreamVerifier on damaged streams', () => {
  let d2: VirtualDisk;
  let xva: Buffer;
  beforeAll(async () => {
    d2 = disk(12 * MiB + 4096, 21, 1);
    xva = await exportXva([
      { ref: 'Ref:3', disk: d2 },
      { ref: 'Ref:7', disk: disk(2 * MiB, 22, 1) },
    ]);
  });

  it('names the chunk whose checksum entry is wrong', async () => {
    const bad = await exportXva([{ ref: 'Ref:3', disk: d2 }], { corruptChecksumAtChunk: 5 });
    const err = await failure(bad);
    expect(err.damage).toBe('chunk-checksum');
    expect(err.entry).toBe('Ref:3/00000005');
    expect(err.offset).toBe(headerOf(bad, 'Ref:3/00000005'));
    expect(err.message).toMatch(
      /Chunk Ref:3\/00000005 at byte \d+ is corrupt: its data has XXH64 [0-9A-F]{16} but its checksum entry \(at byte \d+\) says [0-9A-F]{16}/,
    );
  });

  it('names the chunk whose SHA-1 checksum entry is wrong (old host)', async () => {
    const bad = await exportXva([{ ref: 'Ref:3', disk: d2 }], { oldHost: true, corruptChecksumAtChunk: 12 });
    const err = await failure(bad, 2);
    expect(err).toMatchObject({ damage: 'chunk-checksum', entry: 'Ref:3/00000012' });
    expect(err.message).toContain('SHA-1');
  });

  it.each([
    ['Ref:3/00000000', 0],
    ['Ref:3/00000007', 777_777],
    ['Ref:3/00000012', 4095], // the last byte of the short last chunk
    ['Ref:7/00000001', MiB - 1],
  ])('detects a flipped bit in the data of %s', async (name, within) => {
    const header = headerOf(xva, name);
    const err = await failure(withFlippedBit(xva, header + BLOCK + within, 3), 4);
    expect(err).toMatchObject({ damage: 'chunk-checksum', entry: name, offset: header });
  });

  it('detects a flipped bit in a tar header, in a checksum entry and in padding', async () => {
    const header = headerOf(xva, 'Ref:3/00000004');
    const inSize = await failure(withFlippedBit(xva, header + 130));
    expect(inSize).toMatchObject({ damage: 'tar-header', offset: header, entry: 'Ref:3/00000004' });
    expect(inSize.message).toMatch(
      /tar header at byte \d+ is damaged \(it claims to be "Ref:3\/00000004"\): its checksum field says \d+ but its bytes add up to \d+/,
    );

    const sumHeader = headerOf(xva, 'Ref:3/00000004.xxhash');
    const digit = sumHeader + BLOCK + 3;
    const otherDigit = Buffer.from(xva);
    otherDigit[digit] = xva[digit] === 0x30 ? 0x31 : 0x30;
    expect(await failure(otherDigit)).toMatchObject({
      damage: 'chunk-checksum',
      entry: 'Ref:3/00000004',
      offset: headerOf(xva, 'Ref:3/00000004'),
    });
    const notHex = Buffer.from(xva);
    notHex[digit] = 0x47; // 'G'
    expect(await failure(notHex)).toMatchObject({
      damage: 'checksum-format',
      entry: 'Ref:3/00000004.xxhash',
      offset: sumHeader,
    });

    const inPadding = await failure(withFlippedBit(xva, sumHeader + BLOCK + 100));
    expect(inPadding).toMatchObject({
      damage: 'padding',
      entry: 'Ref:3/00000004.xxhash',
      offset: sumHeader + BLOCK + 100,
    });

    const ovaHeader = await failure(withFlippedBit(xva, 5, 1));
    expect(ovaHeader).toMatchObject({ damage: 'tar-header', offset: 0 });
  });

  it('detects truncation wherever the stream stops', async () => {
    const chunk4 = headerOf(xva, 'Ref:3/00000004');
    const sum4 = headerOf(xva, 'Ref:3/00000004.xxhash');
    const cuts: Array<[number, string]> = [
      [100, 'truncated'], // inside the first header
      [BLOCK + 10, 'truncated'], // inside ova.xml
      [chunk4 + 300, 'truncated'], // inside a header
      [chunk4 + BLOCK + 1000, 'truncated'], // inside chunk data
      [sum4, 'missing-checksum'], // after the data, before its checksum
      [sum4 + BLOCK + 8, 'truncated'], // inside the checksum text
      [sum4 + BLOCK + 16, 'truncated'], // inside its padding
      [sum4 + 2 * BLOCK, 'truncated'], // between entries
      [xva.length - 2 * BLOCK, 'truncated'], // before the end blocks
      [xva.length - BLOCK, 'truncated'], // between the end blocks
    ];
    const rand = seededRandom(99);
    for (let i = 0; i < 10; i++) cuts.push([1 + Math.floor(rand() * (xva.length - 2 * BLOCK - 1)), '']);
    for (const [cut, damage] of cuts) {
      const err = await failure(xva.subarray(0, cut), cut);
      if (damage) expect(err.damage, `cut at ${cut}`).toBe(damage);
      expect(['truncated', 'missing-checksum']).toContain(err.damage);
      expect(err.offset).toBeLessThanOrEqual(cut);
    }
    const endless = await failure(xva.subarray(0, xva.length - 2 * BLOCK));
    expect(endless.message).toContain('without the two zero blocks');
    expect(endless.offset).toBe(xva.length - 2 * BLOCK);
    const inData = await failure(xva.subarray(0, chunk4 + BLOCK + 1000));
    expect(inData).toMatchObject({ entry: 'Ref:3/00000004', offset: chunk4 + BLOCK + 1000 });
    await expect(failure(Buffer.alloc(0))).resolves.toMatchObject({ damage: 'truncated', offset: 0 });
  });

  it('rejects a chunk without its checksum, a checksum without its chunk, and chunks out of order', async () => {
    const sum4 = headerOf(xva, 'Ref:3/00000004.xxhash');
    const noSum = Buffer.concat([xva.subarray(0, sum4), xva.subarray(sum4 + 2 * BLOCK)]);
    const missing = await failure(noSum);
    expect(missing).toMatchObject({ damage: 'missing-checksum', entry: 'Ref:3/00000004', offset: sum4 });
    expect(missing.message).toContain('entry Ref:3/00000005 comes next');

    const chunk4 = headerOf(xva, 'Ref:3/00000004');
    const noData = Buffer.concat([xva.subarray(0, chunk4), xva.subarray(chunk4 + BLOCK + MiB)]);
    expect(await failure(noData)).toMatchObject({
      damage: 'orphan-checksum',
      entry: 'Ref:3/00000004.xxhash',
      offset: chunk4,
    });

    // Swap the pairs of chunks 4 and 5: each is intact, but the counter goes 3, 5, 4.
    const pair = BLOCK + MiB + 2 * BLOCK;
    const chunk5 = chunk4 + pair;
    const swapped = Buffer.concat([
      xva.subarray(0, chunk4),
      xva.subarray(chunk5, chunk5 + pair),
      xva.subarray(chunk4, chunk5),
      xva.subarray(chunk5 + pair),
    ]);
    expect(await failure(swapped)).toMatchObject({
      damage: 'chunk-order',
      entry: 'Ref:3/00000004',
      offset: chunk4 + pair,
    });
  });

  it('rejects garbage, data after the end, and streams that are not XVAs', async () => {
    const rand = seededRandom(5);
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(rand() * 256);
    expect(await failure(garbage)).toMatchObject({ damage: 'tar-header', offset: 0 });

    // Garbage spliced in between two entries: its first block is taken for a header and fails its checksum.
    const chunk6 = headerOf(xva, 'Ref:3/00000006');
    const spliced = Buffer.concat([xva.subarray(0, chunk6), garbage.subarray(0, 4096), xva.subarray(chunk6)]);
    expect(await failure(spliced)).toMatchObject({ damage: 'tar-header', offset: chunk6 });

    const trailing = Buffer.concat([xva, Buffer.from('more')]);
    expect(await failure(trailing)).toMatchObject({ damage: 'trailing-data', offset: xva.length });
    const tooMuchPadding = Buffer.concat([xva, Buffer.alloc(20 * 1024)]);
    expect((await failure(tooMuchPadding)).damage).toBe('trailing-data');

    // A tar that is not an export: no ova.xml first.
    const other = await packWithTarStream([{ name: 'hello.txt', body: Buffer.from('hi') }]);
    expect(await failure(other)).toMatchObject({ damage: 'ova-xml', entry: 'hello.txt', offset: 0 });
  });

  it('keeps failing once it has failed', async () => {
    const v = await XvaStreamVerifier.create();
    const bad = withFlippedBit(xva, 0);
    expect(() => v.update(bad.subarray(0, 4096))).toThrow(XvaVerifyError);
    expect(() => v.update(bad.subarray(4096))).toThrow(/tar header at byte 0/);
    expect(() => v.finish()).toThrow(/tar header at byte 0/);
  });
});

describe('XvaStreamVerifier throughput', () => {
  it('prints its rate on a 256 MiB export', async () => {
    const big = await exportXva([{ ref: 'Ref:1', disk: disk(256 * MiB, 31, 1) }]);
    const { h64Raw } = await xxhash();
    // Best of three for both, so JIT warm-up and GC pauses do not decide the comparison.
    let hashOnly = Infinity;
    let verifyMs = Infinity;
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      for (let at = 0; at < big.length; at += MiB) h64Raw(big.subarray(at, at + MiB));
      hashOnly = Math.min(hashOnly, performance.now() - t);

      const v = await XvaStreamVerifier.create();
      t = performance.now();
      for (let at = 0; at < big.length; at += 256 * 1024) v.update(big.subarray(at, at + 256 * 1024));
      const summary = v.finish();
      verifyMs = Math.min(verifyMs, performance.now() - t);
      expect(summary.totalBytes).toBe(big.length);
    }
    const rate = (ms: number) => `${((big.length / MiB / ms) * 1000).toFixed(0)} MiB/s`;
    console.log(
      `XVA verifier: ${rate(verifyMs)} on ${(big.length / MiB).toFixed(0)} MiB in 256 KiB pieces (${verifyMs.toFixed(0)} ms); ` +
        `XXH64 alone: ${rate(hashOnly)}; verifier overhead besides hashing: ${(verifyMs - hashOnly).toFixed(0)} ms`,
    );
  });
});

// ---- archives made by hand or by another tar writer ----

interface PackEntry {
  name: string;
  body?: Buffer;
  type?: 'file' | 'directory';
  pax?: Record<string, string>;
}

/** ustar headers (and pax ones when asked), as an XVA re-packed by a common tar tool would have. */
async function packWithTarStream(entries: PackEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  const done = (async () => {
    for await (const piece of pack) parts.push(piece as Buffer);
  })();
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, size: body.length, type: e.type ?? 'file', ...(e.pax ? { pax: e.pax } : {}) };
      const callback = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'directory') pack.entry(header, callback);
      else pack.entry(header, body, callback);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(parts);
}

/** A V7 header as written by this test (not by the simulator), optionally with the signed-char checksum. */
function v7Entry(name: string, body: Buffer, opts: { signedChecksum?: boolean } = {}): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write('0000400\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += opts.signedChecksum && b >= 0x80 ? b - 256 : b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const padding = (BLOCK - (body.length % BLOCK)) % BLOCK;
  return Buffer.concat([header, body, Buffer.alloc(padding)]);
}
