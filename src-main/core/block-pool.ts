/**
 * Recycles the 1 MiB blocks the socket reader fills. Without it every MiB of an export is a fresh allocation
 * whose memory returns only at V8's next garbage collection, and V8 lets tens of MiB of such dead buffers pile
 * up before collecting: the backup's RSS then grows past its budget although what it holds stays bounded.
 *
 * Ownership: a block counts its holders (the reader while it fills it, and each chunk cut from it until the
 * pipeline is done with that chunk). A chunk whose holder forgets to release it is simply left to the garbage
 * collector: the counts are weak, so a missed release costs a recycle, never memory or correctness. A release
 * must only come once nothing reads the chunk any more, since the block is then filled anew.
 */
export class BlockPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly holders = new WeakMap<ArrayBufferLike, number>();

  constructor(
    readonly blockBytes = 1024 * 1024,
    private readonly maxFree = 4,
  ) {}

  acquire(): Buffer {
    const block = this.free.pop() ?? new ArrayBuffer(this.blockBytes);
    this.holders.set(block, 1);
    return Buffer.from(block);
  }

  /** One more holder of the block `chunk` lives in (no-op for memory that is not the pool's). */
  retain(chunk: Uint8Array): void {
    const n = this.holders.get(chunk.buffer);
    if (n !== undefined) this.holders.set(chunk.buffer, n + 1);
  }

  release(chunk: Uint8Array): void {
    const block = chunk.buffer;
    const n = this.holders.get(block);
    if (n === undefined) return;
    if (n > 1) return void this.holders.set(block, n - 1);
    this.holders.delete(block);
    if (this.free.length < this.maxFree && block instanceof ArrayBuffer) this.free.push(block);
  }
}
