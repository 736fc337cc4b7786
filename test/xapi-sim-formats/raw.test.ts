import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { importRaw } from '../../src-sim/formats/raw-import.js';
import { collect, fromBuffer, makeTempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(async () => cleanup());

const MiB = 1024 * 1024;

describe('raw', () => {
  it('round-trips through importRaw in odd-sized pieces', async () => {
    const disk = new VirtualDisk({ size: 30 * MiB + 777, seed: 31, backingDir: dir });
    const raw = await collect(rawExport(disk));
    expect(raw.length).toBe(disk.size);
    const fresh = new VirtualDisk({ size: disk.size, seed: 0, allocatedFraction: 0, backingDir: dir });
    expect(await importRaw(fresh, fromBuffer(raw, 99_991))).toBe(disk.size);
    expect((await collect(rawExport(fresh))).equals(raw)).toBe(true);
    // Zero clusters stayed unallocated.
    for (let c = 0; c < disk.clusterCount; c++) expect(fresh.isClusterAllocated(c)).toBe(disk.isClusterAllocated(c));
    await expect(importRaw(fresh, fromBuffer(Buffer.concat([raw, Buffer.alloc(1)])))).rejects.toThrow(/exceeds/);
    await Promise.all([disk.destroy(), fresh.destroy()]);
  });

  it('is paced by rateLimit and stops on abort', async () => {
    const disk = new VirtualDisk({ size: 8 * MiB, seed: 32, backingDir: dir });
    const started = performance.now();
    await collect(rawExport(disk, { rateLimit: 32 * MiB }));
    expect(performance.now() - started).toBeGreaterThan(200);
    const controller = new AbortController();
    const gen = rawExport(disk, { signal: controller.signal, rateLimit: 4 * MiB });
    await gen.next();
    controller.abort();
    await expect(gen.next()).rejects.toThrow();
    await disk.destroy();
  });
});
