import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DurableFile, type ValidateTemp } from './durable-file.js';
import { describeFsError } from '../errors/fs-errors.js';

export { syncDir } from './durable-file.js';

/**
 * A new file of the repository, written durably (core/durable-file) and never over an existing one, whose
 * failures are described as the remote's (what failed, on which file, what the admin can do).
 */
export class AtomicFile {
  private constructor(private readonly file: DurableFile) {}

  get finalPath(): string {
    return this.file.finalPath;
  }
  get tempPath(): string {
    return this.file.tempPath;
  }
  get handle(): fs.FileHandle {
    return this.file.handle;
  }

  static async create(finalPath: string): Promise<AtomicFile> {
    const dir = path.dirname(finalPath);
    await fs.mkdir(dir, { recursive: true }).catch((err) => {
      throw describeFsError(err, dir, 'create the folder');
    });
    const file = await DurableFile.open(finalPath).catch((err) => {
      throw describeFsError(err, dir, 'create a file in');
    });
    return new AtomicFile(file);
  }

  /** fsync, optional validation of the complete temp file, rename into place, fsync the folder. */
  async commit(validate?: ValidateTemp): Promise<void> {
    await this.seal(validate);
    await this.place();
  }

  /** The first half of commit (see DurableFile.seal); lets several files be renamed once all are complete. */
  async seal(validate?: ValidateTemp): Promise<void> {
    await this.file.seal(validate).catch((err) => {
      throw describeFsError(err, this.finalPath, 'finish writing');
    });
  }

  /** The second half of commit: rename into place (never over a file), fsync the folder. */
  async place(): Promise<void> {
    await this.file.place().catch((err) => {
      throw describeFsError(err, this.finalPath, 'rename into place');
    });
  }

  /** Closes and removes the temp file; safe to call more than once. */
  async abort(): Promise<void> {
    await this.file.abort();
  }
}

export async function writeFileAtomic(finalPath: string, data: string | Buffer): Promise<void> {
  const f = await AtomicFile.create(finalPath);
  try {
    await f.handle.writeFile(data);
  } catch (err) {
    await f.abort();
    throw describeFsError(err, finalPath, 'write');
  }
  await f.commit();
}
