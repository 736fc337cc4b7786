import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import xxhashWasm from 'xxhash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { buildOvaXml } from '../../src-sim/formats/ova-xml.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { xvaExport, type XvaExportOptions } from '../../src-sim/formats/xva-export.js';
import { importXva, XvaFormatError } from '../../src-sim/formats/xva-import.js';
import { collect, fromBuffer, makeTempDir, run, toFile } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(async () => cleanup());

const MiB = 1024 * 1024;
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

interface Entry {
  name: string;
  data: Buffer;
  mode: number;
  mtime: Date;
}

async function untar(archive: Buffer): Promise<Entry[]> {
  // XAPI writes V7 headers without the ustar magic, which tar-stream only accepts when told to (an option
  // @types/tar-stream does not declare).
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  const entries: Entry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const piece of entry) parts.push(piece as Buffer);
      entries.push({
        name: entry.header.name,
        data: Buffer.concat(parts),
        mode: entry.header.mode ?? 0,
        mtime: entry.header.mtime ?? new Date(0),
      });
    }
  })();
  extract.end(archive);
  await done;
  return entries;
}

/** Rebuilds each disk from its chunks with the host's offset rule, checking every checksum on the way. */
async function reassemble(entries: Entry[], sizes: Map<string, number>): Promise<Map<string, Buffer>> {
  const { h64Raw } = await xxhashWasm();
  const disks = new Map<string, Buffer>();
  const state = new Map<string, { last: number; offset: number; first: number }>();
  for (let i = 1; i < entries.length; i += 2) {
    const chunk = entries[i]!;
    const sum = entries[i + 1]!;
    const [ref, num] = chunk.name.split('/') as [string, string];
    if (sum.name === `${chunk.name}.xxhash`) {
      expect(sum.data.toString()).toBe(h64Raw(chunk.data, 0n).toString(16).toUpperCase().padStart(16, '0'));
    } else {
      expect(sum.name).toBe(`${chunk.name}.checksum`);
      expect(sum.data.toString()).toBe(createHash('sha1').update(chunk.data).digest('hex'));
    }
    if (!disks.has(ref)) disks.set(ref, Buffer.alloc(sizes.get(ref)!));
    const s = state.get(ref) ?? { last: -1, offset: 0, first: chunk.data.length };
    const offset = s.offset + (Number(num) - s.last - 1) * s.first;
    chunk.data.copy(disks.get(ref)!, offset);
    state.set(ref, { last: Number(num), offset: offset + chunk.data.length, first: s.first });
  }
  return disks;
}

async function makeDisks(): Promise<{ a: VirtualDisk; b: VirtualDisk }> {
  const a = new VirtualDisk({ size: 20 * MiB + 1000, seed: 21, backingDir: dir, allocatedFraction: 0.3 });
  const b = new VirtualDisk({ size: 6 * MiB, seed: 22, backingDir: dir, allocatedFraction: 0 });
  await b.write(2 * MiB, Buffer.alloc(1000, 1));
  return { a, b };
}

async function exportAndCheck(opts: XvaExportOptions): Promise<{ archive: Buffer; entries: Entry[] }> {
  const { a, b } = await makeDisks();
  const archive = await collect(
    xvaExport(
      OVA,
      [
        { ref: 'Ref:2', disk: a },
        { ref: 'Ref:10', disk: b },
      ],
      opts,
    ),
  );
  const path = join(dir, `x${Math.random()}.xva`);
  await toFile(fromBuffer(archive), path);
  const listing = await run('tar', ['-tvf', path]);
  expect(listing.split('\n')[0]).toMatch(/^-r-------- 0\/0 .* ova\.xml$/);

  const entries = await untar(archive);
  expect(entries[0]!.name).toBe('ova.xml');
  expect(entries[0]!.data.toString()).toBe(OVA);
  expect(entries.map((e) => e.name)).toEqual(
    listing
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).pop()),
  );
  // The host's lexicographic order puts Ref:10 before Ref:2.
  expect(entries[1]!.name).toBe('Ref:10/00000000');
  expect(archive.subarray(archive.length - 1024).every((x) => x === 0)).toBe(true);
  expect(archive.length % 512).toBe(0);

  const disks = await reassemble(
    entries,
    new Map([
      ['Ref:2', a.size],
      ['Ref:10', b.size],
    ]),
  );
  expect(disks.get('Ref:2')!.equals(await collect(rawExport(a)))).toBe(true);
  expect(disks.get('Ref:10')!.equals(await collect(rawExport(b)))).toBe(true);
  await Promise.all([a.destroy(), b.destroy()]);
  return { archive, entries };
}

describe('xvaExport', () => {
  it('writes a host-like tar with xxhash chunks, skipping zero chunks but the first and last', async () => {
    const { entries } = await exportAndCheck({});
    const names = entries.map((e) => e.name);
    // Disk b has data only in chunk 2 of 0..5: chunks 0, 2 and 5 are sent.
    expect(names.filter((n) => n.startsWith('Ref:10/') && !n.includes('.'))).toEqual([
      'Ref:10/00000000',
      'Ref:10/00000002',
      'Ref:10/00000005',
    ]);
    expect(names.filter((n) => n.startsWith('Ref:2/') && !n.includes('.')).at(-1)).toBe('Ref:2/00000020');
    expect(entries[1]!.mode).toBe(0o400);
    expect(entries[1]!.mtime.getTime()).toBe(0);
    expect(Math.abs(entries[0]!.mtime.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('writes .checksum (SHA-1) files for old hosts', async () => {
    const { entries } = await exportAndCheck({ oldHost: true });
    expect(entries[2]!.name).toBe('Ref:10/00000000.checksum');
  });

  it('sends zero-length keepalive chunks when the source is slow', async () => {
    const { entries } = await exportAndCheck({ rateLimit: 40 * MiB, keepaliveMs: 20 });
    const empty = entries.filter((e) => /\/\d{8}$/.test(e.name) && e.data.length === 0);
    expect(empty.length).toBeGreaterThan(3);
  });
});

describe('importXva', () => {
  async function roundTrip(transform: (archive: Buffer) => Buffer): Promise<void> {
    const { a, b } = await makeDisks();
    const archive = await collect(
      xvaExport(
        OVA,
        [
          { ref: 'Ref:2', disk: a },
          { ref: 'Ref:10', disk: b },
        ],
        { keepaliveMs: 0 },
      ),
    );
    const fresh = new Map([
      ['Ref:2', new VirtualDisk({ size: a.size, seed: 0, allocatedFraction: 0, backingDir: dir })],
      ['Ref:10', new VirtualDisk({ size: b.size, seed: 0, allocatedFraction: 0, backingDir: dir })],
    ]);
    let sawOva = false;
    await importXva(fromBuffer(transform(archive), 77_777), async (ova) => {
      sawOva = ova.objects.length === 3;
      return fresh;
    });
    expect(sawOva).toBe(true);
    expect((await collect(rawExport(fresh.get('Ref:2')!))).equals(await collect(rawExport(a)))).toBe(true);
    expect((await collect(rawExport(fresh.get('Ref:10')!))).equals(await collect(rawExport(b)))).toBe(true);
    await Promise.all([a.destroy(), b.destroy(), ...[...fresh.values()].map((d) => d.destroy())]);
  }

  it('imports a plain XVA', () => roundTrip((x) => x));
  it('imports a gzip XVA', () => roundTrip((x) => gzipSync(x)));
  it('imports a zstd XVA', () =>
    roundTrip((x) => spawnSync('zstd', ['-c', '-q'], { input: x, maxBuffer: 256 * MiB }).stdout));

  it('names the chunk whose checksum is wrong', async () => {
    const { a, b } = await makeDisks();
    const archive = await collect(xvaExport(OVA, [{ ref: 'Ref:2', disk: a }], { corruptChecksumAtChunk: 0 }));
    const target = new VirtualDisk({ size: a.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    const result = importXva(fromBuffer(archive), async () => new Map([['Ref:2', target]]));
    await expect(result).rejects.toBeInstanceOf(XvaFormatError);
    await expect(result).rejects.toMatchObject({ chunk: 'Ref:2/00000000' });
    const old = await collect(
      xvaExport(OVA, [{ ref: 'Ref:2', disk: a }], { oldHost: true, corruptChecksumAtChunk: 20 }),
    );
    await expect(importXva(fromBuffer(old), async () => new Map([['Ref:2', target]]))).rejects.toThrow(
      /Ref:2\/00000020: checksum mismatch/,
    );
    await Promise.all([a.destroy(), b.destroy(), target.destroy()]);
  });

  it('rejects a truncated archive', async () => {
    const { a, b } = await makeDisks();
    const archive = await collect(xvaExport(OVA, [{ ref: 'Ref:2', disk: a }]));
    const target = new VirtualDisk({ size: a.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    await expect(
      importXva(
        fromBuffer(archive.subarray(0, archive.length - 1024 - 1536)),
        async () => new Map([['Ref:2', target]]),
      ),
    ).rejects.toBeInstanceOf(XvaFormatError);
    await Promise.all([a.destroy(), b.destroy(), target.destroy()]);
  });
});
