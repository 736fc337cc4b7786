import { createHash, type Hash } from 'node:crypto';
import type { promises as fs } from 'node:fs';
import { describeFsError } from '../remotes/fs-errors.js';

/**
 * Writes the stream into an already-opened temporary file, sequentially, hashing as it goes when asked.
 * Durability (fsync) and the final rename belong to the atomic writer that owns the temp file.
 */
export class FileSink {
  private position = 0;
  private readonly hash: Hash | undefined;
  constructor(
    private readonly file: fs.FileHandle,
    private readonly label: string,
    private readonly opts: { hash?: 'sha256' | 'md5' } = {},
  ) {
    this.hash = opts.hash ? createHash(opts.hash) : undefined;
  }

  get bytesWritten(): number {
    return this.position;
  }

  async write(chunk: Buffer): Promise<void> {
    let done = 0;
    try {
      while (done < chunk.length) {
        const { bytesWritten } = await this.file.write(chunk, done, chunk.length - done, this.position + done);
        done += bytesWritten;
      }
    } catch (err) {
      throw describeFsError(err, this.label, 'write');
    }
    this.hash?.update(chunk);
    this.position += chunk.length;
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
