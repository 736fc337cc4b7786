// Streams a 16 GiB simulated disk through the simulator's exporters into a counting sink and shows that
// memory stays flat: the disk costs metadata only and the exporters hold one block at a time.
// Run: npx tsx bench/sim-memory.ts [--xva]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualDisk } from '../src-sim/disk/virtual-disk.js';
import { vhdExport } from '../src-sim/formats/vhd-export.js';
import { xvaExport } from '../src-sim/formats/xva-export.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const DISK_SIZE = 16 * GiB;
const BLOCK = 2 * MiB;
const MILESTONE = 4 * GiB;

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

class Watch {
  peakRss = process.memoryUsage.rss();
  private readonly started = performance.now();
  bytes = 0;

  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakRss) this.peakRss = rss;
    return rss;
  }

  report(label: string): void {
    const seconds = (performance.now() - this.started) / 1000;
    console.log(
      `  ${label}: ${mib(this.bytes)} MiB out in ${seconds.toFixed(1)} s (${(this.bytes / MiB / seconds).toFixed(0)} MiB/s), rss ${mib(this.sample())} MiB, peak ${mib(this.peakRss)} MiB`,
    );
  }
}

/** Follows the vhd-tool layout to know how far through the disk the stream is. */
async function benchVhd(disk: VirtualDisk): Promise<void> {
  console.log(
    `vhdExport of a ${DISK_SIZE / GiB} GiB disk (${disk.allocatedClusterCount()} of ${disk.clusterCount} clusters allocated):`,
  );
  const watch = new Watch();
  const blockCount = DISK_SIZE / BLOCK;
  const batEnd = 2048 + Math.ceil((blockCount * 4) / 512) * 512;
  const bat = Buffer.alloc(blockCount * 4);
  let blockEnds: Array<{ end: number; diskPosition: number }> = [];
  let nextMilestone = MILESTONE;
  for await (const piece of vhdExport(disk, { uuid: '6a0e4d9b-3f1c-4b8e-9a55-1d2c3b4a5f60' })) {
    const at = watch.bytes;
    watch.bytes += piece.length;
    if (at < batEnd) {
      // Copy whatever part of the BAT this piece carries.
      const from = Math.max(at, 2048);
      const to = Math.min(watch.bytes, 2048 + bat.length);
      if (to > from) piece.copy(bat, from - 2048, from - at, to - at);
      if (watch.bytes >= batEnd && blockEnds.length === 0) blockEnds = blockPositions(bat, blockCount);
    }
    watch.sample();
    while (blockEnds.length > 0 && blockEnds[0]!.end <= watch.bytes) {
      const { diskPosition } = blockEnds.shift()!;
      while (diskPosition >= nextMilestone) {
        watch.report(`${nextMilestone / GiB} GiB of disk done`);
        nextMilestone += MILESTONE;
      }
    }
  }
  while (nextMilestone <= DISK_SIZE) {
    watch.report(`${nextMilestone / GiB} GiB of disk done`);
    nextMilestone += MILESTONE;
  }
  watch.report('stream complete');
}

function blockPositions(bat: Buffer, blockCount: number): Array<{ end: number; diskPosition: number }> {
  const out: Array<{ end: number; diskPosition: number }> = [];
  for (let b = 0; b < blockCount; b++) {
    const sector = bat.readUInt32BE(b * 4);
    if (sector !== 0xffffffff) out.push({ end: sector * 512 + 512 + BLOCK, diskPosition: (b + 1) * BLOCK });
  }
  // The last present block is followed by the footer; positions after it count as done at the end.
  return out.sort((x, y) => x.end - y.end);
}

async function benchXva(disk: VirtualDisk): Promise<void> {
  console.log(`xvaExport of the same disk (reads every chunk, hashes the non-zero ones):`);
  const watch = new Watch();
  let next = MILESTONE;
  for await (const piece of xvaExport('<value><struct></struct></value>', [{ ref: 'Ref:1', disk }], {
    keepaliveMs: 0,
  })) {
    watch.bytes += piece.length;
    watch.sample();
    if (watch.bytes >= next) {
      watch.report(`${mib(next)} MiB out`);
      next += MILESTONE;
    }
  }
  watch.report('stream complete');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  try {
    console.log(`rss before creating the disk: ${mib(process.memoryUsage.rss())} MiB`);
    const disk = new VirtualDisk({ size: DISK_SIZE, seed: 2024, allocatedFraction: 0.25, backingDir: dir });
    console.log(`rss after creating it: ${mib(process.memoryUsage.rss())} MiB`);
    await benchVhd(disk);
    if (process.argv.includes('--xva')) await benchXva(disk);
    await disk.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
