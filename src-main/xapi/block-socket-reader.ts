/**
 * Receives a socket's bytes straight into large blocks through Node's `onread` option, instead of one freshly
 * allocated 16 KiB Buffer per TLS record pushed through a Readable and the HTTP parser. On a multi-GiB export
 * that per-record machinery cost the client three times curl's CPU; with `onread` the kernel's (or OpenSSL's)
 * bytes land in the block that is later handed to the transfer pipeline, and the JS work is one small callback
 * per record.
 *
 * Flow control: when `maxQueuedBytes` (512 KiB) wait for the consumer, the socket is paused (TCP's window then
 * closes and the host slows down); `next()` resumes it.
 */

import type { BlockPool } from '../core/block-pool.js';

const BLOCK_BYTES = 1024 * 1024;
/** A read is offered at least this much room: a TLS record is at most 16 KiB, a plain TCP read 64 KiB. */
const MIN_ROOM = 64 * 1024;
/**
 * A waiting consumer gets its chunk once this much has gathered, or GATHER_MS after the first bytes: per-chunk
 * work downstream (verifier, hash, buffer) is then paid per quarter MiB, not per 16 KiB TLS record, and a
 * trickling host is still passed on within milliseconds.
 */
const GATHER_BYTES = 256 * 1024;
const GATHER_MS = 2;

export interface SocketLike {
  pause(): unknown;
  resume(): unknown;
  destroy(err?: Error): unknown;
}

export class BlockSocketReader {
  private block: Buffer;
  /** Bytes of `block` not yet handed out: [start, fill). */
  private start = 0;
  private fill = 0;
  private readonly ready: Buffer[] = [];
  private readyBytes = 0;
  private ended = false;
  private error: unknown;
  private waiter: { resolve: (b: Buffer | null) => void; reject: (e: unknown) => void } | undefined;
  private socket: SocketLike | undefined;
  private paused = false;
  private gatherTimer: NodeJS.Timeout | undefined;

  /**
   * With a pool, blocks come from it and every chunk handed out holds its block until released to the pool
   * by whoever consumes it last (see BlockPool).
   */
  constructor(
    private readonly pool?: BlockPool,
    /**
     * Small: these bytes sit outside the transfer's memory cap and spool, where a stalled destination would
     * find them useless; half a block still lets a busy pipeline take large chunks.
     */
    private readonly maxQueuedBytes = BLOCK_BYTES / 2,
  ) {
    this.block = this.newBlock();
  }

  private newBlock(): Buffer {
    return this.pool ? this.pool.acquire() : Buffer.allocUnsafe(BLOCK_BYTES);
  }

  /** The `onread` option for net.connect / tls.connect. */
  readonly onread = {
    buffer: (): Uint8Array => {
      if (this.block.length - this.fill < MIN_ROOM) {
        if (this.fill > this.start) this.enqueue(this.block.subarray(this.start, this.fill));
        this.pool?.release(this.block); // the reader's own hold; chunks cut from it hold it on
        this.block = this.newBlock();
        this.start = this.fill = 0;
      }
      return this.block.subarray(this.fill);
    },
    callback: (bytes: number): boolean => {
      this.fill += bytes;
      if (this.waiter) {
        if (this.gathered()) this.wake();
        else this.gatherTimer ??= setTimeout(() => this.wake(), GATHER_MS);
      }
      if (!this.paused && this.readyBytes + (this.fill - this.start) >= this.maxQueuedBytes) {
        // net.Socket.pause() stops the handle reading when onread is used (and resume() restarts it); a
        // record OpenSSL already decrypted may still arrive, and simply lands in the block.
        this.paused = true;
        this.socket?.pause();
      }
      return true;
    },
  };

  attach(socket: SocketLike & { on(event: string, fn: (...a: never[]) => void): unknown }): void {
    this.socket = socket;
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err: Error) => this.fail(err));
  }

  /** The next bytes received, as one Buffer (up to a block); null once the peer closed and all was taken. */
  next(): Promise<Buffer | null> {
    if (this.gathered() || this.ended) {
      const chunk = this.take();
      if (chunk) return Promise.resolve(chunk);
      if (this.error !== undefined) return Promise.reject(this.error);
      return Promise.resolve(null);
    }
    const waiting = new Promise<Buffer | null>((resolve, reject) => (this.waiter = { resolve, reject }));
    if (this.fill > this.start) this.gatherTimer ??= setTimeout(() => this.wake(), GATHER_MS);
    return waiting;
  }

  private gathered(): boolean {
    return this.ready.length > 0 || this.fill - this.start >= GATHER_BYTES;
  }

  /** Hands the waiting consumer what has arrived (called when enough gathered, or when the gather time ran out). */
  private wake(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    const w = this.waiter;
    const chunk = w && this.take();
    if (w && chunk) {
      this.waiter = undefined;
      w.resolve(chunk);
    }
  }

  /** Stops reading and closes the socket; a pending next() fails with `err`. */
  destroy(err: Error): void {
    this.fail(err);
    this.socket?.destroy(err);
  }

  private take(): Buffer | undefined {
    let chunk = this.ready.shift();
    if (chunk) {
      this.readyBytes -= chunk.length;
    } else if (this.fill > this.start) {
      // Hand out what has arrived so far; later reads continue after it in the same block.
      chunk = this.block.subarray(this.start, this.fill);
      this.pool?.retain(chunk);
      this.start = this.fill;
    }
    if (this.paused && this.readyBytes + (this.fill - this.start) < this.maxQueuedBytes) {
      this.paused = false;
      this.socket?.resume();
    }
    return chunk;
  }

  private enqueue(chunk: Buffer): void {
    this.pool?.retain(chunk);
    this.ready.push(chunk);
    this.readyBytes += chunk.length;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake(); // the last bytes, however few
    if (this.waiter && this.fill === this.start && this.ready.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      if (this.error !== undefined) w.reject(this.error);
      else w.resolve(null);
    }
  }

  private fail(err: unknown): void {
    this.error ??= err;
    this.ended = true;
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.error);
    }
  }
}
