import { describe, expect, it } from 'vitest';
import { VhdDirectoryReader } from '../../src-main/formats/vhd/vhd-directory-reader.js';
import { VhdDirectoryWriter } from '../../src-main/formats/vhd/vhd-directory-writer.js';
import type { VhdDirectoryStore } from '../../src-main/formats/vhd/vhd-directory.js';

// The writer's memory is its window of puts, not the disk: with a store that answers only when told, no more
// than `concurrency` block objects are ever in flight and writeBlock waits for room; each put holds its own copy,
// so the caller's buffer may be reused at once; the metadata objects come after every block, the header last.

const MiB = 1024 * 1024;

/** A store whose puts wait until released, recording the order of names and the peak of puts in flight. */
function slowStore() {
  const objects = new Map<string, Buffer>();
  const order: string[] = [];
  const waiting: Array<() => void> = [];
  let inFlight = 0;
  let peak = 0;
  const store: VhdDirectoryStore = {
    label: 'mem',
    read: (name) => Promise.resolve(objects.get(name)),
    writeNew: async (name, data) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      objects.set(name, Buffer.from(data));
      order.push(name);
    },
    overwrite: (name, data) => {
      objects.set(name, Buffer.from(data));
      return Promise.resolve();
    },
    delete: (name) => {
      objects.delete(name);
      return Promise.resolve();
    },
  };
  const pump = setInterval(() => waiting.splice(0).forEach((r) => r()), 1);
  return { store, objects, order, peak: () => peak, stop: () => clearInterval(pump) };
}

describe('VhdDirectoryWriter', () => {
  it('keeps at most `concurrency` block puts in flight, copies each block, and writes the header last', async () => {
    const s = slowStore();
    try {
      const w = VhdDirectoryWriter.start(s.store, {
        currentSize: 40 * MiB,
        uuid: '0e1f0000-0000-4000-8000-000000000001',
        compression: 'none',
        concurrency: 3,
      });
      const reused = Buffer.alloc(2 * MiB);
      for (let i = 0; i < 20; i++) {
        reused.fill(i + 1);
        await w.writeBlock(i, reused);
      }
      await w.finish();
      expect(s.peak()).toBe(3);
      expect(s.order.slice(-3)).toEqual(['bat', 'footer', 'header']);
      const r = await VhdDirectoryReader.open(s.store);
      expect(r.storedBlocks()).toHaveLength(20);
      for (let i = 0; i < 20; i++) expect((await r.readBlock(i))!.data[0]).toBe(i + 1);
    } finally {
      s.stop();
    }
  });

  it('abort removes every object written, metadata included', async () => {
    const s = slowStore();
    try {
      const w = VhdDirectoryWriter.start(s.store, {
        currentSize: 8 * MiB,
        uuid: '0e1f0000-0000-4000-8000-000000000002',
      });
      for (let i = 0; i < 4; i++) await w.writeBlock(i, Buffer.alloc(2 * MiB, 7));
      await w.abort();
      expect([...s.objects.keys()]).toEqual([]);
    } finally {
      s.stop();
    }
  });
});
