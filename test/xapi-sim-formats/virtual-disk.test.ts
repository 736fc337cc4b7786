import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_SIZE, VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { makeTempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir()));
afterAll(async () => cleanup());

const MiB = 1024 * 1024;

describe('VirtualDisk', () => {
  it('generates the same content for the same seed and different content for another', async () => {
    const a = new VirtualDisk({ size: 8 * MiB, seed: 1, backingDir: dir, allocatedFraction: 0.5 });
    const b = new VirtualDisk({ size: 8 * MiB, seed: 1, backingDir: dir, allocatedFraction: 0.5 });
    const c = new VirtualDisk({ size: 8 * MiB, seed: 2, backingDir: dir, allocatedFraction: 0.5 });
    expect((await a.read(0, 8 * MiB)).equals(await b.read(0, 8 * MiB))).toBe(true);
    expect((await a.read(0, 8 * MiB)).equals(await c.read(0, 8 * MiB))).toBe(false);
  });

  it('reads unallocated clusters as zeros and allocated ones as distinct non-zero data', async () => {
    const d = new VirtualDisk({ size: 16 * MiB + 1000, seed: 9, backingDir: dir });
    const seen = new Set<string>();
    for (let c = 0; c < d.clusterCount; c++) {
      const len = Math.min(CLUSTER_SIZE, d.size - c * CLUSTER_SIZE);
      const bytes = await d.read(c * CLUSTER_SIZE, len);
      if (d.isClusterAllocated(c)) {
        expect(bytes.every((x) => x === 0)).toBe(false);
        seen.add(bytes.toString('base64'));
      } else {
        expect(bytes.every((x) => x === 0)).toBe(true);
      }
    }
    expect(seen.size).toBe(d.allocatedClusterCount());
    // Reads at odd offsets agree with whole-cluster reads.
    const whole = await d.read(0, d.size);
    expect(
      (await d.read(12345, 3 * CLUSTER_SIZE + 7)).equals(whole.subarray(12345, 12345 + 3 * CLUSTER_SIZE + 7)),
    ).toBe(true);
  });

  it('allocates about the requested fraction, in runs', () => {
    const d = new VirtualDisk({ size: 1024 * MiB, seed: 5, backingDir: dir, allocatedFraction: 0.25 });
    const share = d.allocatedClusterCount() / d.clusterCount;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.3);
    const empty = new VirtualDisk({ size: 64 * MiB, seed: 5, backingDir: dir, allocatedFraction: 0 });
    expect(empty.allocatedClusterCount()).toBe(0);
  });

  it('costs nothing for a 2 TiB disk until written', async () => {
    const before = process.memoryUsage().rss;
    const d = new VirtualDisk({ size: 2 * 1024 * 1024 * MiB, seed: 3, backingDir: dir });
    const tail = await d.read(d.size - 4 * MiB, 4 * MiB);
    expect(tail.length).toBe(4 * MiB);
    d.guestWrite(0.00001);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB);
    await d.destroy();
  });

  it('writes round-trip at any alignment, and all-zero clusters stay unallocated', async () => {
    const d = new VirtualDisk({ size: 4 * MiB, seed: 4, backingDir: dir, allocatedFraction: 1 });
    const data = Buffer.alloc(3 * CLUSTER_SIZE + 1000, 0xab);
    data.fill(0, CLUSTER_SIZE - 500, 2 * CLUSTER_SIZE + 700); // covers cluster 2 entirely once shifted by 500
    await d.write(500, data);
    expect((await d.read(500, data.length)).equals(data)).toBe(true);
    expect(d.isClusterAllocated(1)).toBe(false);
    expect(d.isClusterAllocated(0)).toBe(true);
    await d.write(0, Buffer.alloc(CLUSTER_SIZE));
    expect(d.isClusterAllocated(0)).toBe(false);
    await d.destroy();
  });

  it('snapshots copy on write and survive each other', async () => {
    const parent = new VirtualDisk({ size: 8 * MiB, seed: 6, backingDir: dir });
    await parent.write(CLUSTER_SIZE, Buffer.alloc(CLUSTER_SIZE, 7));
    const original = await parent.read(0, 8 * MiB);
    const snap = parent.snapshot();
    expect(parent.changedClusters(snap).every((x) => x === 0)).toBe(true);

    const changed = parent.guestWrite(0.1);
    await parent.write(5 * CLUSTER_SIZE, Buffer.alloc(CLUSTER_SIZE, 9));
    expect((await snap.read(0, 8 * MiB)).equals(original)).toBe(true);
    const diff = parent.changedClusters(snap);
    const now = await parent.read(0, 8 * MiB);
    for (let c = 0; c < parent.clusterCount; c++) {
      const same = now
        .subarray(c * CLUSTER_SIZE, (c + 1) * CLUSTER_SIZE)
        .equals(original.subarray(c * CLUSTER_SIZE, (c + 1) * CLUSTER_SIZE));
      if (!diff[c]) expect(same).toBe(true);
    }
    expect(diff.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(changed);

    await snap.write(CLUSTER_SIZE * 2, Buffer.alloc(CLUSTER_SIZE, 3));
    const parentNow = await parent.read(0, 8 * MiB);
    await snap.destroy();
    expect((await parent.read(0, 8 * MiB)).equals(parentNow)).toBe(true);
    await parent.destroy();
  });
});
