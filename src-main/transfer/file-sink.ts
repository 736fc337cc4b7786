import { createHash, type Hash } from 'node:crypto';
import { writeExactly, type RandomAccessFile } from '../core/random-access-file.js';
import { describeFsError } from '../errors/fs-errors.js';

const SYNC_EVERY = 64 * 1024 * 1024;

/**
 * Writes the stream into an already-opened temporary file, sequentially, hashing as it goes when asked.
 * Durability (fsync) and the final rename belong to the atomic writer that owns the temp file.
 */
export class FileSink {
  private position = 0;
  /**
   * Two 1 MiB writes in flight hide the thread pool's latency. Not more: destination writes and the spool's
   * file I/O share libuv's thread pool (4 threads by default), and a stalled NAS blocks every write sent to
   * it; with 2 writes and 1 background flush blocked, one thread is always left for the spool.
   */
  readonly maxInFlight = 2;
  /** write() resolves after the bytes are in the file and the hash has them: the chunk is not kept. */
  readonly releasesChunks = true;
  /**
   * Data is flushed to stable storage as it goes (every SYNC_EVERY bytes, in the background), so the fsync
   * that commits the file finds little left to do and the device is kept busy all along.
   */
  private syncedUpTo = 0;
  private syncing: Promise<void> = Promise.resolve();
  private readonly hash: Hash | undefined;
  constructor(
    private readonly file: RandomAccessFile,
    private readonly label: string,
    private readonly opts: { hash?: 'sha256' | 'md5' } = {},
  ) {
    this.hash = opts.hash ? createHash(opts.hash) : undefined;
  }

  get bytesWritten(): number {
    return this.position;
  }

  /**
   * Writes at the next position. Calls may overlap (each has its own position, and the hash is fed in call
   * order), so a pipeline can keep a few writes in flight and hide the thread pool's latency.
   */
  async write(chunk: Buffer): Promise<void> {
    const position = this.position;
    this.position += chunk.length;
    this.hash?.update(chunk);
    try {
      await writeExactly(this.file, chunk, position);
    } catch (err) {
      throw describeFsError(err, this.label, 'write');
    }
    if (this.position - this.syncedUpTo >= SYNC_EVERY) {
      this.syncedUpTo = this.position;
      // Errors surface at the final fsync, which the commit always does.
      this.syncing = this.syncing.then(() => this.file.datasync().catch(() => {}));
    }
  }

  /** Waits for the background flushes (before the commit's own fsync, or before closing the file). */
  async settle(): Promise<void> {
    await this.syncing;
  }

  /** Starts over (a retried export): the temp file is emptied, the hash restarted. */
  async reset(): Promise<FileSink> {
    await this.file.truncate(0);
    return new FileSink(this.file, this.label, this.opts);
  }

  digestHex(): string | undefined {
    return this.hash?.digest('hex');
  }
}
