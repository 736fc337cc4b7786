import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../../errors/fs-errors.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { localFileOf, writeExactly, type RandomAccessFile } from '../../core/random-access-file.js';

/**
 * The disk part of the spool buffer: a file on local disk used as a ring of `capBytes`, written at the head
 * and read at the tail in order. Opened at the first write; on POSIX its name goes at once, so a crash never
 * leaves one behind. Drained, it starts over at 0 and gives the disk space back.
 */
export class RingFile {
  private file: RandomAccessFile | undefined;
  private filePath: string | undefined;
  private readPos = 0; // monotonic positions; the file offset is pos % cap
  private writePos = 0;
  private peak = 0;
  private writing = false;
  private truncating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    readonly capBytes: number,
  ) {}

  get usedBytes(): number {
    return this.writePos - this.readPos;
  }

  get freeBytes(): number {
    return this.capBytes - this.usedBytes;
  }

  get peakBytes(): number {
    return this.peak;
  }

  /** Appends `data`, which must fit (see freeBytes). */
  async write(data: Buffer): Promise<void> {
    this.writing = true;
    try {
      const file = await this.open();
      await this.truncating;
      let done = 0;
      while (done < data.length) {
        const pos = (this.writePos + done) % this.capBytes;
        const n = Math.min(data.length - done, this.capBytes - pos);
        await writeExactly(file, data.subarray(done, done + n), pos).catch((err: unknown) => {
          throw describeFsError(err, `the spool file in ${this.dir}`, 'write', 'spool');
        });
        done += n;
      }
      this.writePos += data.length;
      this.peak = Math.max(this.peak, this.usedBytes);
    } finally {
      this.writing = false;
    }
  }

  /** Reads the next `into.length` bytes (at most usedBytes) into `into`. */
  async read(into: Buffer): Promise<Buffer> {
    const n = into.length;
    let done = 0;
    while (done < n) {
      const pos = (this.readPos + done) % this.capBytes;
      const len = Math.min(n - done, this.capBytes - pos);
      const bytesRead = await this.file!.read(into, done, len, pos);
      if (bytesRead !== len)
        throw new SluiceError('INTERNAL', 'The spool file was truncated behind our back.', {
          hint: "Check the spool folder's disk.",
        });
      done += len;
    }
    this.readPos += n;
    // Not while a write is under way: its position was taken before the reset.
    if (this.usedBytes === 0 && !this.writing) {
      this.readPos = this.writePos = 0;
      this.truncating = this.file!.truncate(0).catch(() => {});
    }
    return into;
  }

  async close(): Promise<void> {
    await this.file?.close().catch(() => {});
    if (this.filePath) await fs.unlink(this.filePath).catch(() => {});
  }

  private async open(): Promise<RandomAccessFile> {
    if (this.file) return this.file;
    await fs.mkdir(this.dir, { recursive: true });
    this.filePath = path.join(
      this.dir,
      `.sluice-spool-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    );
    try {
      this.file = localFileOf(this.filePath, await fs.open(this.filePath, 'wx+', 0o600));
    } catch (err) {
      throw new SluiceError(
        'REMOTE_ERROR',
        `The spool folder ${this.dir} is not writable: ${(err as Error).message}.`,
        {
          hint: 'Choose another spool location in Settings, or free space there.',
          context: { spool: this.dir },
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
}
