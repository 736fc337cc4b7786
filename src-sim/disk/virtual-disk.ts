import { ClusterStore } from './cluster-store.js';
import { fillGeneratedCluster, mix32, Xorshift32 } from './content-pool.js';

/** Granularity of allocation, of change tracking (CBT) and of copy-on-write. */
export const CLUSTER_SIZE = 64 * 1024;

export interface VirtualDiskOptions {
  size: number;
  seed: number;
  /** Share (0..1) of clusters holding data at creation; default 0.3. */
  allocatedFraction?: number;
  /** Directory for the sparse file that holds written (imported) data. */
  backingDir: string;
}

// A cluster descriptor is one uint32: 0 = unallocated (reads as zeros); 1..0x7fffffff = generated content of
// that generation; SLOT_FLAG + n = written content in slot n of the shared cluster store.
const SLOT_FLAG = 0x8000_0000;
const INITIAL_GENERATION = 1;

// Descriptors live in pages materialised on first write; an untouched page is computed from the seed, so a
// 2 TiB disk costs nothing until the guest or an import writes to it.
const PAGE_SHIFT = 14;
const PAGE_CLUSTERS = 1 << PAGE_SHIFT;

// Realistic disks are allocated in runs: data sits in some 2 MiB regions and not others. Keeping the initial
// layout clustered makes sparse formats (VHD blocks, XVA zero chunks) behave as on a real host.
const REGION_CLUSTERS = 32;
const REGION_CLUSTER_DENSITY = 0.8;

const ZERO_CLUSTER = Buffer.alloc(CLUSTER_SIZE);

/** State shared by a disk and every snapshot taken from it, directly or not. */
class Lineage {
  nextGeneration = INITIAL_GENERATION + 1;
  readonly regionThreshold: number;
  readonly clusterThreshold: number;

  constructor(
    readonly seed: number,
    allocatedFraction: number,
    readonly store: ClusterStore,
  ) {
    const fraction = Math.min(1, Math.max(0, allocatedFraction));
    const regionShare = Math.min(1, fraction / REGION_CLUSTER_DENSITY);
    const clusterShare = regionShare === 0 ? 0 : fraction / regionShare;
    this.regionThreshold = Math.round(regionShare * 0x1_0000_0000);
    this.clusterThreshold = Math.round(clusterShare * 0x1_0000_0000);
  }

  initialDescriptor(cluster: number): number {
    const region = Math.floor(cluster / REGION_CLUSTERS);
    if (mix32(this.seed, region, 0x7265) >= this.regionThreshold) return 0;
    return mix32(this.seed, cluster, 0x636c) < this.clusterThreshold ? INITIAL_GENERATION : 0;
  }
}

/** Only this module can build a disk that shares a lineage (see snapshot()). */
class CloneOf {
  constructor(readonly parent: VirtualDisk) {}
}

export class VirtualDisk {
  readonly size: number;
  readonly clusterCount: number;
  private readonly lineage: Lineage;
  private readonly pages: Array<Uint32Array | undefined>;
  /** 1 where this disk may modify the page in place; 0 where it is shared and must be copied first. */
  private readonly owned: Uint8Array;
  private writeQueue: Promise<void> = Promise.resolve();
  private destroyed = false;

  constructor(opts: VirtualDiskOptions, clone?: CloneOf) {
    if (clone) {
      const parent = clone.parent;
      this.size = parent.size;
      this.clusterCount = parent.clusterCount;
      this.lineage = parent.lineage;
      this.lineage.store.retain();
      this.pages = parent.pages.slice();
      this.owned = new Uint8Array(parent.owned.length);
      parent.owned.fill(0);
      return;
    }
    if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new RangeError(`invalid disk size ${opts.size}`);
    this.size = opts.size;
    this.clusterCount = Math.ceil(opts.size / CLUSTER_SIZE);
    const store = new ClusterStore(opts.backingDir, CLUSTER_SIZE);
    this.lineage = new Lineage(opts.seed >>> 0, opts.allocatedFraction ?? 0.3, store);
    const pageCount = Math.ceil(this.clusterCount / PAGE_CLUSTERS);
    this.pages = new Array<Uint32Array | undefined>(pageCount).fill(undefined);
    this.owned = new Uint8Array(pageCount);
  }

  get seed(): number {
    return this.lineage.seed;
  }

  /** Copy-on-write clone: shares every descriptor page and all written data; copies nothing. */
  snapshot(): VirtualDisk {
    this.assertAlive();
    return new VirtualDisk({ size: this.size, seed: this.seed, backingDir: '' }, new CloneOf(this));
  }

  isClusterAllocated(index: number): boolean {
    return this.descriptor(index) !== 0;
  }

  /** Number of allocated clusters (walks the whole map: for tests and reports, not hot paths). */
  allocatedClusterCount(): number {
    let n = 0;
    for (let i = 0; i < this.clusterCount; i++) if (this.descriptor(i) !== 0) n++;
    return n;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.assertAlive();
    this.assertRange(offset, length);
    const out = Buffer.allocUnsafe(length);
    const slotReads: Array<Promise<void>> = [];
    let pos = offset;
    while (pos < offset + length) {
      const cluster = Math.floor(pos / CLUSTER_SIZE);
      const from = pos - cluster * CLUSTER_SIZE;
      const take = Math.min(CLUSTER_SIZE - from, offset + length - pos);
      const desc = this.descriptor(cluster);
      const at = pos - offset;
      if (desc === 0) {
        out.fill(0, at, at + take);
      } else if (desc >= SLOT_FLAG) {
        // Coalesce clusters stored in consecutive slots into one file read.
        const slot = desc - SLOT_FLAG;
        let span = take;
        let next = cluster + 1;
        while (pos + span < offset + length && this.descriptor(next) === desc + (next - cluster)) {
          span += Math.min(CLUSTER_SIZE, offset + length - (pos + span));
          next++;
        }
        slotReads.push(this.lineage.store.read(slot, from, out, at, span));
        pos += span;
        continue;
      } else {
        fillGeneratedCluster(out, at, { seed: this.seed, cluster, generation: desc }, CLUSTER_SIZE, from, take);
      }
      pos += take;
    }
    await Promise.all(slotReads);
    return out;
  }

  /** Imports land here. Writes are serialised so partial-cluster read-modify-writes cannot interleave. */
  write(offset: number, data: Buffer): Promise<void> {
    this.assertAlive();
    this.assertRange(offset, data.length);
    const done = this.writeQueue.then(() => this.writeNow(offset, data));
    this.writeQueue = done.catch(() => undefined);
    return done;
  }

  /**
   * Simulates guest activity: rewrites about `fraction` of all clusters with fresh content, in short runs at
   * random places (so some land on previously unallocated clusters). Returns how many clusters changed.
   */
  guestWrite(fraction: number, seed?: number): number {
    this.assertAlive();
    const target = Math.min(
      this.clusterCount,
      Math.max(fraction > 0 ? 1 : 0, Math.round(fraction * this.clusterCount)),
    );
    const generation = this.lineage.nextGeneration++;
    if (generation >= SLOT_FLAG) throw new Error('generation counter exhausted');
    const rng = new Xorshift32(seed ?? mix32(this.seed, generation, 0x6777));
    const touched = new Set<number>();
    while (touched.size < target) {
      const start = rng.below(this.clusterCount);
      const run = 1 + rng.below(16);
      for (let c = start; c < Math.min(this.clusterCount, start + run) && touched.size < target; c++) {
        if (touched.has(c)) continue;
        touched.add(c);
        this.setDescriptor(c, generation);
      }
    }
    return touched.size;
  }

  /**
   * One entry per cluster of this disk: 1 where its content may differ from `base`. Same-lineage disks compare
   * descriptors (shared pages are skipped whole); unrelated disks differ wherever either holds data.
   */
  changedClusters(base: VirtualDisk): Uint8Array {
    const changed = new Uint8Array(this.clusterCount);
    if (base.lineage !== this.lineage) {
      for (let c = 0; c < this.clusterCount; c++) {
        const theirs = c < base.clusterCount ? base.descriptor(c) : 0;
        if (this.descriptor(c) !== 0 || theirs !== 0) changed[c] = 1;
      }
      return changed;
    }
    for (let p = 0; p < this.pages.length; p++) {
      if (this.pages[p] === base.pages[p]) continue;
      const first = p * PAGE_CLUSTERS;
      const last = Math.min(this.clusterCount, first + PAGE_CLUSTERS);
      for (let c = first; c < last; c++) {
        const theirs = c < base.clusterCount ? base.descriptor(c) : 0;
        if (this.descriptor(c) !== theirs) changed[c] = 1;
      }
    }
    return changed;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.writeQueue;
    await this.lineage.store.release();
  }

  private async writeNow(offset: number, data: Buffer): Promise<void> {
    const end = offset + data.length;
    let pos = offset;
    // Runs of non-zero clusters go to consecutive slots in one batch.
    let batch: Array<{ cluster: number; bytes: Buffer }> = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const first = this.lineage.store.allocate(batch.length);
      await this.lineage.store.write(
        first,
        batch.map((b) => b.bytes),
      );
      batch.forEach((b, i) => this.setDescriptor(b.cluster, SLOT_FLAG + first + i));
      batch = [];
    };
    while (pos < end) {
      const cluster = Math.floor(pos / CLUSTER_SIZE);
      const clusterStart = cluster * CLUSTER_SIZE;
      const clusterLength = Math.min(CLUSTER_SIZE, this.size - clusterStart);
      const take = Math.min(clusterStart + clusterLength, end) - pos;
      let bytes: Buffer;
      if (pos === clusterStart && take === clusterLength) {
        bytes = data.subarray(pos - offset, pos - offset + take);
      } else {
        bytes = await this.read(clusterStart, clusterLength);
        data.copy(bytes, pos - clusterStart, pos - offset, pos - offset + take);
      }
      if (bytes.equals(ZERO_CLUSTER.subarray(0, bytes.length))) {
        await flush();
        this.setDescriptor(cluster, 0);
      } else {
        batch.push({ cluster, bytes });
        if (batch.length >= 256) await flush();
      }
      pos += take;
    }
    await flush();
  }

  private descriptor(cluster: number): number {
    const page = this.pages[cluster >>> PAGE_SHIFT];
    if (page) return page[cluster & (PAGE_CLUSTERS - 1)]!;
    if (cluster >= this.clusterCount) return 0;
    return this.lineage.initialDescriptor(cluster);
  }

  private setDescriptor(cluster: number, value: number): void {
    const p = cluster >>> PAGE_SHIFT;
    let page = this.pages[p];
    if (!page || !this.owned[p]) {
      page = page ? page.slice() : this.materialisePage(p);
      this.pages[p] = page;
      this.owned[p] = 1;
    }
    page[cluster & (PAGE_CLUSTERS - 1)] = value;
  }

  private materialisePage(p: number): Uint32Array {
    const page = new Uint32Array(PAGE_CLUSTERS);
    const first = p * PAGE_CLUSTERS;
    const last = Math.min(this.clusterCount, first + PAGE_CLUSTERS);
    for (let c = first; c < last; c++) page[c - first] = this.lineage.initialDescriptor(c);
    return page;
  }

  private assertRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new RangeError(`range [${offset}, +${length}) is outside the ${this.size}-byte disk`);
    }
  }

  private assertAlive(): void {
    if (this.destroyed) throw new Error('virtual disk was destroyed');
  }
}
