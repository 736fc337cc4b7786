import type { RingFile } from './ring-file.js';

/**
 * The newest data once memory is full, gathered into one block on its way to the ring file so the disk gets
 * large writes. A consumer that catches up takes it directly, skipping the round trip through the disk.
 */
export class StagingBlock {
  private block: Buffer | undefined;
  private fill = 0;
  private writing = false;

  constructor(private readonly blockBytes: number) {}

  get usedBytes(): number {
    return this.fill;
  }

  /** Memory it holds: the whole block, from its first use on. */
  get allocatedBytes(): number {
    return this.block?.length ?? 0;
  }

  get full(): boolean {
    return this.block !== undefined && this.fill === this.block.length;
  }

  /** True while its bytes are being written to the ring: they are neither in the ring yet nor takeable. */
  get flushing(): boolean {
    return this.writing;
  }

  /** Copies what fits of `chunk` from `offset`; returns how many bytes that was. */
  append(chunk: Buffer, offset: number): number {
    this.block ??= Buffer.allocUnsafe(this.blockBytes);
    const n = Math.min(this.block.length - this.fill, chunk.length - offset);
    chunk.copy(this.block, this.fill, offset, offset + n);
    this.fill += n;
    return n;
  }

  /** Its bytes, copied out, and the block emptied. */
  take(): Buffer {
    const out = Buffer.from(this.block!.subarray(0, this.fill));
    this.fill = 0;
    return out;
  }

  /** Writes its bytes to the ring (which must have room) and empties it. */
  async flushTo(ring: RingFile): Promise<void> {
    this.writing = true;
    try {
      await ring.write(this.block!.subarray(0, this.fill));
      this.fill = 0;
    } finally {
      this.writing = false;
    }
  }

  release(): void {
    this.block = undefined;
  }
}
