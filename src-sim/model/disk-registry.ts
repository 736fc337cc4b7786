import { VirtualDisk } from '../disk/virtual-disk.js';

/** The content behind each VDI. Snapshots share data copy-on-write, so big disks cost little. */
export class DiskRegistry {
  private readonly disks = new Map<string, VirtualDisk>();
  private nextSeed: number;

  constructor(
    private readonly backingDir: string,
    seed: number,
  ) {
    this.nextSeed = seed >>> 0;
  }

  create(vdiRef: string, size: number, allocatedFraction: number): VirtualDisk {
    // Each disk draws its own seed from the pool seed, so the whole pool is reproducible.
    this.nextSeed = (Math.imul(this.nextSeed, 1664525) + 1013904223) >>> 0;
    const disk = new VirtualDisk({ size, seed: this.nextSeed, allocatedFraction, backingDir: this.backingDir });
    this.disks.set(vdiRef, disk);
    return disk;
  }

  attach(vdiRef: string, disk: VirtualDisk): void {
    this.disks.set(vdiRef, disk);
  }

  get(vdiRef: string): VirtualDisk | undefined {
    return this.disks.get(vdiRef);
  }

  async destroy(vdiRef: string): Promise<void> {
    const disk = this.disks.get(vdiRef);
    this.disks.delete(vdiRef);
    await disk?.destroy();
  }

  async destroyAll(): Promise<void> {
    const all = [...this.disks.values()];
    this.disks.clear();
    await Promise.all(all.map((d) => d.destroy()));
  }
}
