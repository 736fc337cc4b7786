import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { BlockPool } from '../core/block-pool.js';

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
 * Small incoming chunks are copied into blocks of our own, large ones (the socket reader's) are kept as they
 * are; either way memory use is what we count (by the blocks pinned), and the destination and the spool get
 * large writes.
 *
 * Order: memory (oldest) → spool file → staging block (newest). Nothing enters memory while the spool or the
 * staging block holds data.
 */
export class SpoolBuffer {
  private readonly mem: Array<{ data: Buffer; alloc: number }> = [];
  private memBytes = 0;
  private memPeak = 0;
  /** Blocks kept by reference (adopted chunks) → how many queued chunks live in each. */
  private readonly adopted = new Map<ArrayBufferLike, number>();
  /** The memory block being filled; it counts fully against the cap from its allocation. */
  private tail: Buffer | undefined;
  private tailUsed = 0;
  /** Data bound for the spool, gathered into one large write. */
  private staging: Buffer | undefined;
  private stagingUsed = 0;
  private flushing = false;
  private readonly blockBytes: number;
  private readonly spoolBlockBytes: number;
  private readonly memoryBlocksCap: number;
  private file: fs.FileHandle | undefined;
  private filePath: string | undefined;
  private spoolRead = 0; // monotonic positions; the file offset is pos % cap
  private spoolWrite = 0;
  private spoolPeak = 0;
  private truncating: Promise<unknown> = Promise.resolve();
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
    this.memoryBlocksCap = opts.memoryCapBytes - this.spoolBlockBytes;
    this.blockBytes = Math.max(1, Math.min(block, this.memoryBlocksCap));
  }

  get stats(): SpoolBufferStats {
    return {
      memoryBytes: this.memBytes + (this.staging?.length ?? 0),
      spoolBytes: this.spoolUsed,
      spoolPeakBytes: this.spoolPeak,
      memoryPeakBytes: this.memPeak,
    };
  }

  private get spoolUsed(): number {
    return this.spoolWrite - this.spoolRead;
  }

  /**
   * Adds a chunk; resolves once it is stored, true when the chunk itself was kept (it then lives until the
   * consumer is done with it), false when it was copied. Waits while memory and spool are both full.
   */
  async push(chunk: Buffer): Promise<boolean> {
    if (this.ended) throw new Error('SpoolBuffer: push after end');
    if (this.extendLast(chunk)) return true;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.failure) throw this.failure;
      const rest = chunk.length - offset;
      if (this.spoolUsed === 0 && this.stagingUsed === 0 && !this.flushing) {
        if (rest >= ADOPT_MIN_BYTES && this.tailUsed === 0) {
          if (this.adopt(offset === 0 ? chunk : chunk.subarray(offset))) return true;
        } else if (this.tail && this.tailUsed < this.tail.length) {
          const n = Math.min(this.tail.length - this.tailUsed, rest);
          chunk.copy(this.tail, this.tailUsed, offset, offset + n);
          this.tailUsed += n;
          offset += n;
          if (this.tailUsed === this.tail.length) {
            this.sealTail();
            this.wakeConsumer?.();
          } else this.scheduleFlush();
          continue;
        }
        if (this.tailUsed > 0 || rest < ADOPT_MIN_BYTES) this.sealTail();
        if (rest < ADOPT_MIN_BYTES && this.memBytes + this.blockBytes <= this.memoryBlocksCap) {
          this.tail = this.allocBlock(this.blockBytes);
          this.tailUsed = 0;
          this.memBytes += this.blockBytes;
          this.memPeak = Math.max(this.memPeak, this.memBytes + this.spoolBlockBytes);
          continue;
        }
        // Memory is full: follow the destination while it moves, spill only when it stalls.
        if (this.opts.spoolCapBytes === 0) {
          await this.waitForConsumer();
          continue;
        }
        if (await this.waitForConsumer(this.opts.spillAfterMs ?? 250)) continue;
      }
      if (this.opts.spoolCapBytes > 0) {
        this.staging ??= Buffer.allocUnsafe(this.spoolBlockBytes);
        const n = Math.min(this.staging.length - this.stagingUsed, rest);
        chunk.copy(this.staging, this.stagingUsed, offset, offset + n);
        this.stagingUsed += n;
        offset += n;
        if (this.stagingUsed === this.staging.length) await this.flushStaging();
        else this.scheduleFlush();
        continue;
      }
      await this.waitForConsumer();
    }
    return false;
  }

  private get pool(): BlockPool | undefined {
    return this.opts.pool;
  }

  /** A block of `n` bytes: the pool's when it deals in that size (the consumer releases it), else new. */
  private allocBlock(n: number): Buffer {
    const pool = this.pool;
    if (pool && n <= pool.blockBytes && n > pool.blockBytes / 2) return pool.acquire().subarray(0, n);
    return Buffer.allocUnsafe(n);
  }

  /**
   * Keeps a large chunk as it is instead of copying it (the socket reader already gathers the host's bytes
   * into 1 MiB blocks). Memory is counted by the block the chunk lives in, once however many chunks share it,
   * so the cap still holds for what is really pinned.
   */
  private adopt(chunk: Buffer): boolean {
    this.sealTail();
    const block = chunk.buffer;
    const holders = this.adopted.get(block) ?? 0;
    const cost = holders === 0 ? block.byteLength : 0;
    if (this.memBytes + cost > this.memoryBlocksCap) return false;
    this.adopted.set(block, holders + 1);
    this.memBytes += cost;
    this.memPeak = Math.max(this.memPeak, this.memBytes + this.spoolBlockBytes);
    this.mem.push({ data: chunk, alloc: 0 });
    this.wakeConsumer?.();
    return true;
  }

  /**
   * A chunk that continues the newest queued one in the same block (the socket reader hands a block out in
   * pieces as its bytes arrive) joins it instead of being copied or queued apart: no copy for small pieces,
   * and the destination gets one large write. Only while that entry waits and nothing is queued after it.
   */
  private extendLast(chunk: Buffer): boolean {
    if (this.tailUsed > 0 || this.stagingUsed > 0 || this.spoolUsed > 0 || this.flushing) return false;
    const last = this.mem.at(-1);
    if (!last || last.alloc !== 0 || last.data.buffer !== chunk.buffer) return false;
    if (last.data.byteOffset + last.data.length !== chunk.byteOffset) return false;
    last.data = Buffer.from(chunk.buffer, last.data.byteOffset, last.data.length + chunk.length);
    // The block was already counted (and is held by the entry): the chunk's own hold is not needed.
    this.pool?.release(chunk);
    return true;
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
    while (this.opts.spoolCapBytes - this.spoolUsed < this.stagingUsed) {
      if (this.failure) throw this.failure;
      await this.waitForConsumer();
    }
    if (this.stagingUsed === 0) return;
    this.flushing = true;
    try {
      await this.writeSpool(this.staging!.subarray(0, this.stagingUsed));
      this.stagingUsed = 0;
    } finally {
      this.flushing = false;
    }
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

  /** Moves the filled part of the tail block into the queue. */
  private sealTail(): void {
    if (!this.tail) return;
    if (this.tailUsed > 0) this.mem.push({ data: this.tail.subarray(0, this.tailUsed), alloc: this.tail.length });
    else {
      this.memBytes -= this.tail.length;
      this.pool?.release(this.tail);
    }
    this.tail = undefined;
    this.tailUsed = 0;
  }

  private async openSpool(): Promise<fs.FileHandle> {
    if (this.file) return this.file;
    await fs.mkdir(this.opts.spoolDir!, { recursive: true });
    this.filePath = path.join(
      this.opts.spoolDir!,
      `.sluice-spool-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    );
    try {
      this.file = await fs.open(this.filePath, 'wx+', 0o600);
    } catch (err) {
      throw new SluiceError(
        'REMOTE_ERROR',
        `The spool folder ${this.opts.spoolDir} is not writable: ${(err as Error).message}.`,
        {
          hint: 'Choose another spool location in Settings, or free space there.',
          context: { spool: this.opts.spoolDir! },
          cause: err,
        },
      );
    }
    // On POSIX the name goes at once: a crash can never leave a spool file behind.
    if (process.platform !== 'win32') {
      await fs.unlink(this.filePath).catch(() => {});
      this.filePath = undefined;
    }
    return this.file;
  }

  private async writeSpool(data: Buffer): Promise<void> {
    const file = await this.openSpool();
    await this.truncating;
    const cap = this.opts.spoolCapBytes;
    let done = 0;
    while (done < data.length) {
      const pos = (this.spoolWrite + done) % cap;
      const n = Math.min(data.length - done, cap - pos);
      await writeFully(file, data.subarray(done, done + n), pos).catch((err: unknown) => {
        throw describeFsError(err, `the spool file in ${this.opts.spoolDir}`, 'write', 'spool');
      });
      done += n;
    }
    this.spoolWrite += data.length;
    this.spoolPeak = Math.max(this.spoolPeak, this.spoolUsed);
  }

  /** The next bytes in order, or null once the producer ended and everything was taken. */
  async shift(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.mem.length === 0 && this.tailUsed > 0) this.sealTail(); // the consumer waits: hand over what we have
      const head = this.mem.shift();
      if (head) {
        this.memBytes -= head.alloc;
        const holders = this.adopted.get(head.data.buffer);
        if (holders !== undefined && head.alloc === 0) {
          if (holders > 1) this.adopted.set(head.data.buffer, holders - 1);
          else {
            this.adopted.delete(head.data.buffer);
            this.memBytes -= head.data.buffer.byteLength;
          }
        }
        this.wakeProducer?.();
        return head.data;
      }
      if (this.spoolUsed > 0) {
        const out = await this.readSpool(Math.min(this.spoolUsed, this.spoolBlockBytes));
        this.wakeProducer?.();
        return out;
      }
      if (this.stagingUsed > 0 && !this.flushing) {
        // Newest data, not yet on disk: hand it over directly instead of a round trip through the spool.
        const out = Buffer.from(this.staging!.subarray(0, this.stagingUsed));
        this.stagingUsed = 0;
        this.wakeProducer?.();
        return out;
      }
      if (this.ended && !this.flushing) return null;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  private async readSpool(n: number): Promise<Buffer> {
    const cap = this.opts.spoolCapBytes;
    const out = this.allocBlock(n);
    let done = 0;
    while (done < n) {
      const pos = (this.spoolRead + done) % cap;
      const len = Math.min(n - done, cap - pos);
      const { bytesRead } = await this.file!.read(out, done, len, pos);
      if (bytesRead !== len)
        throw new SluiceError('INTERNAL', 'The spool file was truncated behind our back.', {
          hint: "Check the spool folder's disk.",
        });
      done += len;
    }
    this.spoolRead += n;
    if (this.spoolUsed === 0 && !this.flushing) {
      // Drained: start the ring over at 0 and give the disk space back.
      this.spoolRead = this.spoolWrite = 0;
      this.truncating = this.file!.truncate(0).catch(() => {});
    }
    return out;
  }

  /** The producer is done: the consumer gets null after the last byte. */
  end(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.sealTail();
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
    this.mem.length = 0;
    this.adopted.clear();
    this.memBytes = 0;
    this.tail = undefined;
    this.staging = undefined;
    await this.file?.close().catch(() => {});
    if (this.filePath) await fs.unlink(this.filePath).catch(() => {});
  }
}

async function writeFully(file: fs.FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
