import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { VhdChainReader } from '../../src-main/formats/vhd/vhd-chain-reader.js';
import { VhdDirectoryReader } from '../../src-main/formats/vhd/vhd-directory-reader.js';
import type { ChunkCompression } from '../../src-main/formats/vhd/vhd-directory.js';
import { VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import { writeVhdStreamToDirectory } from '../../src-main/formats/vhd/vhd-stream-to-directory.js';
import { writeVhdStreamToFile } from '../../src-main/formats/vhd/vhd-stream-to-file.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { remoteDirectoryStore } from '../../src-main/repository/vhd-directory-files.js';
import type { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { vhdExport } from '../../src-sim/formats/vhd-export.js';
import { collect, hasQemu, qemuVhdToRaw, virtualDisks } from '../helpers/vhd-fixtures.js';

// A VHD directory written from the host's VHD stream must read back as the disk, alone and as a chain, in
// every compression Xen Orchestra writes; its objects must be laid out as XO's VhdDirectory lays them out
// (names, the bit-array bat, block paths); and a stream cut short must leave no object behind.

const MiB = 1024 * 1024;
const uuid = (n: number) => `5a1ce000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const vd = virtualDisks('sluice-vhd-dir-');

function remoteAt(name: string): FolderRemote {
  return new FolderRemote(join(vd.dir, name));
}

async function writeRaw(chain: VhdChainReader, out: string): Promise<void> {
  await pipeline(chain.read(), createWriteStream(out));
}

/** Files under a folder, relative, sorted. */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await tree(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

const decoders: Record<ChunkCompression, (b: Buffer) => Buffer> = {
  none: (b) => b,
  gzip: (b) => gunzipSync(b),
  brotli: (b) => brotliDecompressSync(b),
};

describe('VHD directories', () => {
  it.each<[ChunkCompression]>([['brotli'], ['gzip'], ['none']])(
    'a %s directory written from a full and a differencing stream reads back as each point (qemu-img compare)',
    async (compression) => {
      const size = 21 * MiB + 3 * 512;
      const disk = vd.newDisk(size, 7 + compression.length, 0.5);
      const remote = remoteAt(`r-${compression}`);
      await mkdir(remote.root, { recursive: true });
      const snaps: VirtualDisk[] = [vd.keep(disk.snapshot())];
      disk.guestWrite(0.1, 99);
      snaps.push(vd.keep(disk.snapshot()));
      const dirs = ['v/data/0.vhd', 'v/data/1.vhd'];
      const full = await writeVhdStreamToDirectory(
        vhdExport(snaps[0]!, { uuid: uuid(1) }),
        remoteDirectoryStore(remote, dirs[0]!),
        { compression },
      );
      expect(full.blocks).toBeGreaterThan(0);
      const delta = await writeVhdStreamToDirectory(
        vhdExport(snaps[1]!, { uuid: uuid(2), base: snaps[0]!, parentUuid: uuid(1), parentName: 'x.vhd' }),
        remoteDirectoryStore(remote, dirs[1]!),
        { compression, parentName: '0.alias.vhd', expectedParentUuid: uuid(1) },
      );
      // A delta holds only the blocks that changed.
      expect(delta.blocks).toBeLessThan(full.blocks);
      for (let i = 0; i < 2; i++) {
        const chain = await VhdChainReader.openEach(dirs.slice(0, i + 1), (d) =>
          VhdDirectoryReader.open(remoteDirectoryStore(remote, d)),
        );
        expect(chain.size).toBe(size);
        const got = join(vd.dir, `got-${compression}-${i}.raw`);
        await writeRaw(chain, got);
        await chain.close();
        const want = join(vd.dir, `want-${compression}-${i}.raw`);
        await writeFile(want, await collect(rawExport(snaps[i]!)));
        if (hasQemu) execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', got, want]);
        else expect((await readFile(got)).equals(await readFile(want))).toBe(true);
      }
      // The same full disk as a VHD file, converted by qemu-img, is the same disk too.
      if (hasQemu) {
        const file = join(vd.dir, `full-${compression}.vhd`);
        await writeVhdStreamToFile(vhdExport(snaps[0]!, { uuid: uuid(1) }), file);
        execFileSync('qemu-img', [
          'compare',
          '-q',
          '-f',
          'raw',
          '-F',
          'raw',
          join(vd.dir, `got-${compression}-0.raw`),
          qemuVhdToRaw(file),
        ]);
      }
    },
  );

  it("lays its objects out as Xen Orchestra's VhdDirectory does", async () => {
    const size = 2 * 1024 * MiB + 6 * MiB; // 1027 blocks: block ids past 999 go under blocks/1/
    const disk = vd.newDisk(size, 3, 0.01);
    await disk.write(1005 * 2 * MiB + 4096, Buffer.alloc(8192, 0x5a));
    await disk.write(size - 4096, Buffer.alloc(4096, 0xa5));
    const remote = remoteAt('layout');
    await mkdir(remote.root, { recursive: true });
    const snap = vd.keep(disk.snapshot());
    const stream = await collect(vhdExport(snap, { uuid: uuid(5) }));
    const r = await writeVhdStreamToDirectory(once(stream), remoteDirectoryStore(remote, 'd'), {
      compression: 'brotli',
    });
    const dir = join(remote.root, 'd');
    const files = await tree(dir);
    // XO's names: chunk-filters.json, header, footer, bat, blocks/<id div 1000>/<id mod 1000> (no padding).
    const present = files.filter((f) => f.startsWith('blocks/'));
    expect(files.filter((f) => !f.startsWith('blocks/'))).toEqual(['bat', 'chunk-filters.json', 'footer', 'header']);
    expect(present.length).toBe(r.blocks);
    for (const f of present) expect(f).toMatch(/^blocks\/(0|[1-9]\d*)\/(0|[1-9]\d{0,2})$/);
    expect(await readFile(join(dir, 'chunk-filters.json'), 'utf8')).toBe('["brotli"]');
    // Which blocks the host stream carried, from its own BAT (after footer copy and header at 512).
    const tableOffset = Number(stream.readBigUInt64BE(512 + 16));
    const entries = stream.readUInt32BE(512 + 28);
    expect(entries).toBe(1027);
    const streamed: number[] = [];
    for (let i = 0; i < entries; i++) if (stream.readUInt32BE(tableOffset + i * 4) !== 0xffffffff) streamed.push(i);
    expect(streamed.some((i) => i >= 1000)).toBe(true);
    expect(present.sort()).toEqual(streamed.map((i) => `blocks/${Math.floor(i / 1000)}/${i % 1000}`).sort());
    // bat: a bit array with one byte per table entry (XO allocates maxTableEntries bytes), MSB first.
    const bat = brotliDecompressSync(await readFile(join(dir, 'bat')));
    const expectedBat = Buffer.alloc(entries);
    for (const i of streamed) expectedBat[i >> 3]! |= 0x80 >> (i & 7);
    expect(bat.equals(expectedBat)).toBe(true);
    // footer: the host's footer, byte for byte; header: 1024 bytes, the table right after it, 2 MiB blocks.
    const footer = brotliDecompressSync(await readFile(join(dir, 'footer')));
    expect(footer.equals(stream.subarray(0, 512))).toBe(true);
    const header = brotliDecompressSync(await readFile(join(dir, 'header')));
    expect(header.length).toBe(1024);
    expect(header.toString('latin1', 0, 8)).toBe('cxsparse');
    expect(Number(header.readBigUInt64BE(16))).toBe(512 + 1024);
    expect(header.readUInt32BE(28)).toBe(entries);
    expect(header.readUInt32BE(32)).toBe(2 * MiB);
    // A block object: the sector bitmap (512 bytes for 2 MiB) then the data, as in the stream.
    const first = streamed[0]!;
    const block = brotliDecompressSync(await readFile(join(dir, `blocks/0/${first}`)));
    const at = stream.readUInt32BE(tableOffset + first * 4) * 512;
    expect(block.equals(stream.subarray(at, at + 512 + 2 * MiB))).toBe(true);
  });

  it.each<[ChunkCompression]>([['gzip'], ['none']])('stores %s objects as XO does', async (compression) => {
    const disk = vd.newDisk(6 * MiB, 11, 0.5);
    const remote = remoteAt(`c-${compression}`);
    await mkdir(remote.root, { recursive: true });
    const snap = vd.keep(disk.snapshot());
    const stream = await collect(vhdExport(snap, { uuid: uuid(6) }));
    await writeVhdStreamToDirectory(once(stream), remoteDirectoryStore(remote, 'd'), { compression });
    const dir = join(remote.root, 'd');
    const files = await tree(dir);
    // No filter: no chunk-filters.json at all (XO removes it), and every object is raw.
    expect(files.includes('chunk-filters.json')).toBe(compression !== 'none');
    if (compression !== 'none') expect(await readFile(join(dir, 'chunk-filters.json'), 'utf8')).toBe('["gzip"]');
    const footer = decoders[compression](await readFile(join(dir, 'footer')));
    expect(footer.equals(stream.subarray(0, 512))).toBe(true);
  });

  it('reads a directory whose chunk-filters.json is [] or absent as unfiltered, and refuses one it does not know', async () => {
    const disk = vd.newDisk(4 * MiB, 12, 0.5);
    const remote = remoteAt('filters');
    await mkdir(remote.root, { recursive: true });
    const snap = vd.keep(disk.snapshot());
    await writeVhdStreamToDirectory(vhdExport(snap, { uuid: uuid(7) }), remoteDirectoryStore(remote, 'd'), {
      compression: 'none',
    });
    const store = remoteDirectoryStore(remote, 'd');
    const want = await collect(rawExport(snap));
    const read = async () => {
      const chain = await VhdChainReader.openEach(['d'], () => VhdDirectoryReader.open(store));
      try {
        return await collect(chain.read());
      } finally {
        await chain.close();
      }
    };
    expect((await read()).equals(want)).toBe(true);
    await writeFile(join(remote.root, 'd', 'chunk-filters.json'), '[]');
    expect((await read()).equals(want)).toBe(true);
    await writeFile(join(remote.root, 'd', 'chunk-filters.json'), '["zstd"]');
    const err = await VhdDirectoryReader.open(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VhdFormatError);
    expect(String(err)).toContain('zstd');
  });

  it('names a missing block object and a damaged one when it is read', async () => {
    const disk = vd.newDisk(8 * MiB, 13, 0.9);
    const remote = remoteAt('damage');
    await mkdir(remote.root, { recursive: true });
    const snap = vd.keep(disk.snapshot());
    const r = await writeVhdStreamToDirectory(vhdExport(snap, { uuid: uuid(8) }), remoteDirectoryStore(remote, 'd'));
    expect(r.blocks).toBeGreaterThan(1);
    const reader = await VhdDirectoryReader.open(remoteDirectoryStore(remote, 'd'));
    const [a, b] = reader.storedBlocks();
    await writeFile(join(remote.root, 'd', 'blocks', '0', String(a)), 'not brotli');
    const { rm } = await import('node:fs/promises');
    await rm(join(remote.root, 'd', 'blocks', '0', String(b)));
    const e1 = await reader.readBlock(a!).catch((e: unknown) => e);
    expect(e1).toMatchObject({ damage: 'block' });
    expect(String(e1)).toContain(`blocks/0/${a}`);
    const e2 = await reader.readBlock(b!).catch((e: unknown) => e);
    expect(e2).toMatchObject({ damage: 'block' });
    expect(String(e2)).toContain('missing');
  });

  it('removes every object it wrote when the stream is cut short', async () => {
    const disk = vd.newDisk(12 * MiB, 14, 0.8);
    const remote = remoteAt('cut');
    await mkdir(remote.root, { recursive: true });
    const snap = vd.keep(disk.snapshot());
    const whole = await collect(vhdExport(snap, { uuid: uuid(9) }));
    const cut = whole.subarray(0, Math.floor(whole.length * 0.7));
    async function* pieces() {
      for (let i = 0; i < cut.length; i += 256 * 1024) yield cut.subarray(i, i + 256 * 1024);
    }
    const err = await writeVhdStreamToDirectory(pieces(), remoteDirectoryStore(remote, 'd')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VhdFormatError);
    const left = await stat(join(remote.root, 'd')).then(
      () => tree(join(remote.root, 'd')),
      () => [],
    );
    expect(left).toEqual([]);
  });
});
