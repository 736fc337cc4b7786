import { open, rm, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Append-only sparse file of fixed-size slots holding clusters that were written (imports). One store is
 * shared by a disk and all its snapshots, which reference slots by number; it is deleted when the last of
 * them lets go, so destroying a snapshot never pulls data from under its parent.
 */
export class ClusterStore {
  private handle: Promise<FileHandle> | undefined;
  private slotCount = 0;
  private holders = 1;
  private readonly path: string;

  constructor(
    backingDir: string,
    private readonly slotSize: number,
  ) {
    this.path = join(backingDir, `sim-disk-${randomBytes(6).toString('hex')}.clusters`);
  }

  retain(): void {
    this.holders++;
  }

  /** Returns true when this was the last holder and the file is gone. */
  async release(): Promise<boolean> {
    this.holders--;
    if (this.holders > 0) return false;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      await (await handle).close();
      await rm(this.path, { force: true });
    }
    return true;
  }

  /** Reserves `count` consecutive slots and returns the first. */
  allocate(count: number): number {
    const first = this.slotCount;
    this.slotCount += count;
    return first;
  }

  /** Writes consecutive slots starting at firstSlot; each buffer is at most one slot. */
  async write(firstSlot: number, clusters: Buffer[]): Promise<void> {
    const fh = await this.file();
    let position = firstSlot * this.slotSize;
    // Slots are padded to slotSize by the file's sparseness, so short tail clusters need no padding.
    for (const cluster of clusters) {
      let done = 0;
      while (done < cluster.length) {
        const { bytesWritten } = await fh.write(cluster, done, cluster.length - done, position + done);
        done += bytesWritten;
      }
      position += this.slotSize;
    }
  }

  /** Reads [from, from+length) of consecutive slots starting at slot (the range may span slots). */
  async read(slot: number, from: number, target: Buffer, targetOffset: number, length: number): Promise<void> {
    const fh = await this.file();
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(
        target,
        targetOffset + done,
        length - done,
        slot * this.slotSize + from + done,
      );
      // Reading past the written end of a short tail slot: the rest is zeros by definition.
      if (bytesRead === 0) {
        target.fill(0, targetOffset + done, targetOffset + length);
        return;
      }
      done += bytesRead;
    }
  }

  private file(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'w+');
    return this.handle;
  }
}
