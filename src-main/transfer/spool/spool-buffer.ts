import type { BlockPool } from '../../core/block-pool.js';
import { allocBlock, MemoryQueue } from './memory-queue.js';
import { RingFile } from './ring-file.js';
import { StagingBlock } from './staging-block.js';

const FLUSH_MS = 20;
/** Chunks at least this large are queued as they are rather than copied into our blocks. */
const ADOPT_MIN_BYTES = 256 * 1024;

export interface SpoolBufferOptions {
  /** In-memory bytes at most (default 64 MiB), counted as the blocks actually allocated. */
  memoryCapBytes: number;
  /** Bytes at most in the disk spool; 0 disables it. */
  spoolCapBytes: number;
  /** Folder for the spool file (local disk); required when spoolCapBytes > 0. */
  spoolDir?: string | null;
  /** Size of the blocks chunks are gathered into, in memory and on their way to the spool (default 1 MiB). */
  blockBytes?: number;
  /**
   * How long the producer waits for memory before spilling to the spool (default 250 ms). A destination that
   * keeps moving is simply followed (no extra disk I/O); one that stops is absorbed by the spool well before
   * a host with a ~2 s give-up notices.
   */
  spillAfterMs?: number;
  /**
   * Where memory blocks come from when its block size matches: blocks handed to the consumer are then the
   * consumer's to release to the pool (see BlockPool), so a long transfer recycles instead of allocating.
   */
  pool?: BlockPool;
}

export interface SpoolBufferStats {
  memoryBytes: number;
  spoolBytes: number;
  spoolPeakBytes: number;
  memoryPeakBytes: number;
}

/**
 * A bounded FIFO between the host's export (producer) and the destination (consumer): memory first, then a
 * ring file on local disk, then, when both are full, the producer waits for just enough room for its next
 * block. So a stalled destination first costs disk, never unbounded RAM, and when the spool is full the host
 * is still read at the destination's pace, a block at a time, rather than stopped dead (a host that gives up
 * after ~2 s without a read keeps its export alive as long as the destination moves at all).
 *
 * Its parts: the memory queue (our blocks and adopted chunks, see MemoryQueue), the staging block and the ring
 * file. This class orders them and wakes each side when the other made progress.
 *
 * Order: memory (oldest) → spool file → staging block (newest). Nothing enters memory while the spool or the
 * staging block holds data.
 */
export class SpoolBuffer {
  private readonly mem: MemoryQueue;
  private readonly staging: StagingBlock;
  private readonly ring: RingFile;
  private readonly spoolBlockBytes: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private failure: unknown;
  private closed = false;
  private wakeProducer: (() => void) | undefined;
  private wakeConsumer: (() => void) | undefined;

  constructor(private readonly opts: SpoolBufferOptions) {
    if (opts.spoolCapBytes > 0 && !opts.spoolDir) throw new Error('SpoolBuffer: spoolDir is required with a spool');
    const block = opts.blockBytes ?? 1024 * 1024;
    // The staging block is memory too: it is reserved out of the memory cap.
    this.spoolBlockBytes =
      opts.spoolCapBytes > 0
        ? Math.max(1, Math.min(block, opts.spoolCapBytes, Math.floor(opts.memoryCapBytes / 2)))
        : 0;
    const memoryBlocksCap = opts.memoryCapBytes - this.spoolBlockBytes;
    const blockBytes = Math.max(1, Math.min(block, memoryBlocksCap));
    this.mem = new MemoryQueue(memoryBlocksCap, blockBytes, this.spoolBlockBytes, opts.pool);
    this.staging = new StagingBlock(this.spoolBlockBytes);
    // Without a spool nothing reaches the staging block, so the ring file is never opened.
    this.ring = new RingFile(opts.spoolDir ?? '', opts.spoolCapBytes);
  }

  get stats(): SpoolBufferStats {
    return {
      memoryBytes: this.mem.bytes + this.staging.allocatedBytes,
      spoolBytes: this.ring.usedBytes,
      spoolPeakBytes: this.ring.peakBytes,
      memoryPeakBytes: this.mem.peakBytes,
    };
  }

  /** Memory takes new data only while nothing newer than it waits in the spool or the staging block. */
  private get memoryOpen(): boolean {
    return this.ring.usedBytes === 0 && this.staging.usedBytes === 0 && !this.staging.flushing;
  }

  /**
   * Adds a chunk; resolves once it is stored, true when the chunk itself was kept (it then lives until the
   * consumer is done with it), false when it was copied. Waits while memory and spool are both full.
   */
  async push(chunk: Buffer): Promise<boolean> {
    if (this.ended) throw new Error('SpoolBuffer: push after end');
    if (this.memoryOpen && this.mem.extendLast(chunk)) return true;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.failure) throw this.failure;
      const rest = chunk.length - offset;
      if (this.memoryOpen) {
        if (rest >= ADOPT_MIN_BYTES && this.mem.tailUsed === 0) {
          if (this.mem.adopt(offset === 0 ? chunk : chunk.subarray(offset))) {
            this.wakeConsumer?.();
            return true;
          }
        } else if (this.mem.tailHasRoom) {
          const { copied, full } = this.mem.fillTail(chunk, offset);
          offset += copied;
          if (full) {
            this.mem.sealTail();
            this.wakeConsumer?.();
          } else this.scheduleFlush();
          continue;
        }
        if (this.mem.tailUsed > 0 || rest < ADOPT_MIN_BYTES) this.mem.sealTail();
        if (rest < ADOPT_MIN_BYTES && this.mem.newTail()) continue;
        // Memory is full: follow the destination while it moves, spill only when it stalls.
        if (this.opts.spoolCapBytes === 0) {
          await this.waitForConsumer();
          continue;
        }
        if (await this.waitForConsumer(this.opts.spillAfterMs ?? 250)) continue;
      }
      if (this.opts.spoolCapBytes > 0) {
        offset += this.staging.append(chunk, offset);
        if (this.staging.full) await this.flushStaging();
        else this.scheduleFlush();
        continue;
      }
      await this.waitForConsumer();
    }
    return false;
  }

  /** Resolves true when the consumer made room, false when `timeoutMs` passed first. */
  private waitForConsumer(timeoutMs?: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => resolve(false), timeoutMs);
      this.wakeProducer = () => {
        clearTimeout(timer);
        resolve(true);
      };
    }).finally(() => void (this.wakeProducer = undefined));
  }

  /** Writes the staging block to the spool, waiting for room when the spool is full. */
  private async flushStaging(): Promise<void> {
    while (this.ring.freeBytes < this.staging.usedBytes) {
      if (this.failure) throw this.failure;
      await this.waitForConsumer();
    }
    if (this.staging.usedBytes === 0) return;
    await this.staging.flushTo(this.ring);
    this.wakeConsumer?.();
  }

  /**
   * A waiting consumer gets a partly filled block after a moment rather than at once: a fast destination
   * then still receives large writes, and a trickling source is not held back more than FLUSH_MS.
   */
  private scheduleFlush(): void {
    if (this.flushTimer || !this.wakeConsumer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.wakeConsumer?.();
    }, FLUSH_MS);
  }

  /** The next bytes in order, or null once the producer ended and everything was taken. */
  async shift(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      const head = this.mem.shift();
      if (head) {
        this.wakeProducer?.();
        return head;
      }
      if (this.ring.usedBytes > 0) {
        const n = Math.min(this.ring.usedBytes, this.spoolBlockBytes);
        const out = await this.ring.read(allocBlock(this.opts.pool, n));
        this.wakeProducer?.();
        return out;
      }
      if (this.staging.usedBytes > 0 && !this.staging.flushing) {
        // Newest data, not yet on disk: hand it over directly instead of a round trip through the spool.
        const out = this.staging.take();
        this.wakeProducer?.();
        return out;
      }
      if (this.ended && !this.staging.flushing) return null;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** The producer is done: the consumer gets null after the last byte. */
  end(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.mem.sealTail();
    this.ended = true;
    this.wakeConsumer?.();
  }

  /** Either side failed: both sides see the error at their next call. */
  fail(err: unknown): void {
    this.failure ??= err;
    this.wakeConsumer?.();
    this.wakeProducer?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.mem.clear();
    this.staging.release();
    await this.ring.close();
  }
}
