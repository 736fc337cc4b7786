import type { BlockPool } from '../../core/block-pool.js';

/** A block of `n` bytes: the pool's when it deals in that size (the consumer releases it), else new. */
export function allocBlock(pool: BlockPool | undefined, n: number): Buffer {
  if (pool && n <= pool.blockBytes && n > pool.blockBytes / 2) return pool.acquire().subarray(0, n);
  return Buffer.allocUnsafe(n);
}

interface Entry {
  data: Buffer;
  /** Bytes of our own block this entry frees when taken; 0 for an adopted chunk (counted by its block). */
  alloc: number;
}

/**
 * The memory part of the spool buffer: queued chunks, oldest first, and the tail block being filled. Small
 * chunks are copied into blocks of our own (the tail), large ones are adopted as they are; memory is counted
 * by the blocks actually pinned, and never goes past the cap.
 */
export class MemoryQueue {
  private readonly entries: Entry[] = [];
  private pinned = 0;
  private peak = 0;
  /** Blocks kept by reference (adopted chunks) → how many queued chunks live in each. */
  private readonly adopted = new Map<ArrayBufferLike, number>();
  /** The memory block being filled; it counts fully against the cap from its allocation. */
  private tail: Buffer | undefined;
  private tailFill = 0;

  constructor(
    private readonly capBytes: number,
    private readonly blockBytes: number,
    /** Memory held beside the queue (the staging block), counted in the peak. */
    private readonly reservedBytes: number,
    private readonly pool: BlockPool | undefined,
  ) {}

  /** Bytes pinned: our blocks (the tail's whole block included) and the blocks adopted chunks live in. */
  get bytes(): number {
    return this.pinned;
  }

  get peakBytes(): number {
    return this.peak;
  }

  /** Bytes copied into the tail block and not yet queued. */
  get tailUsed(): number {
    return this.tailFill;
  }

  get tailHasRoom(): boolean {
    return this.tail !== undefined && this.tailFill < this.tail.length;
  }

  /**
   * A chunk that continues the newest queued one in the same block (the socket reader hands a block out in
   * pieces as its bytes arrive) joins it instead of being copied or queued apart: no copy for small pieces,
   * and the destination gets one large write. Only while that entry waits and nothing is queued after it
   * (the caller checks the spool side).
   */
  extendLast(chunk: Buffer): boolean {
    if (this.tailFill > 0) return false;
    const last = this.entries.at(-1);
    if (!last || last.alloc !== 0 || last.data.buffer !== chunk.buffer) return false;
    if (last.data.byteOffset + last.data.length !== chunk.byteOffset) return false;
    last.data = Buffer.from(chunk.buffer, last.data.byteOffset, last.data.length + chunk.length);
    // The block was already counted (and is held by the entry): the chunk's own hold is not needed.
    this.pool?.release(chunk);
    return true;
  }

  /** Copies what fits of `chunk` from `offset` into the tail block; `full` when the block is now full. */
  fillTail(chunk: Buffer, offset: number): { copied: number; full: boolean } {
    const tail = this.tail!;
    const n = Math.min(tail.length - this.tailFill, chunk.length - offset);
    chunk.copy(tail, this.tailFill, offset, offset + n);
    this.tailFill += n;
    return { copied: n, full: this.tailFill === tail.length };
  }

  /** Starts a new tail block if the cap leaves room for one. */
  newTail(): boolean {
    if (this.pinned + this.blockBytes > this.capBytes) return false;
    this.tail = allocBlock(this.pool, this.blockBytes);
    this.tailFill = 0;
    this.pinned += this.blockBytes;
    this.peak = Math.max(this.peak, this.pinned + this.reservedBytes);
    return true;
  }

  /** Moves the filled part of the tail block into the queue (an empty tail is given back). */
  sealTail(): void {
    if (!this.tail) return;
    if (this.tailFill > 0) this.entries.push({ data: this.tail.subarray(0, this.tailFill), alloc: this.tail.length });
    else {
      this.pinned -= this.tail.length;
      this.pool?.release(this.tail);
    }
    this.tail = undefined;
    this.tailFill = 0;
  }

  /**
   * Keeps a large chunk as it is instead of copying it (the socket reader already gathers the host's bytes
   * into 1 MiB blocks). Memory is counted by the block the chunk lives in, once however many chunks share it,
   * so the cap still holds for what is really pinned. False when that block does not fit.
   */
  adopt(chunk: Buffer): boolean {
    this.sealTail();
    const block = chunk.buffer;
    const holders = this.adopted.get(block) ?? 0;
    const cost = holders === 0 ? block.byteLength : 0;
    if (this.pinned + cost > this.capBytes) return false;
    this.adopted.set(block, holders + 1);
    this.pinned += cost;
    this.peak = Math.max(this.peak, this.pinned + this.reservedBytes);
    this.entries.push({ data: chunk, alloc: 0 });
    return true;
  }

  /** The oldest chunk, the tail's bytes when nothing else is queued (the consumer waits), else undefined. */
  shift(): Buffer | undefined {
    if (this.entries.length === 0 && this.tailFill > 0) this.sealTail();
    const head = this.entries.shift();
    if (!head) return undefined;
    this.pinned -= head.alloc;
    const holders = this.adopted.get(head.data.buffer);
    if (holders !== undefined && head.alloc === 0) {
      if (holders > 1) this.adopted.set(head.data.buffer, holders - 1);
      else {
        this.adopted.delete(head.data.buffer);
        this.pinned -= head.data.buffer.byteLength;
      }
    }
    return head.data;
  }

  clear(): void {
    this.entries.length = 0;
    this.adopted.clear();
    this.pinned = 0;
    this.tail = undefined;
  }
}
