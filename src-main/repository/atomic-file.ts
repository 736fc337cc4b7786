import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError } from '../errors/fs-errors.js';

/**
 * A file that appears under its final name only once it is complete and durable: written to `.<time>.<name>`
 * (created exclusively) in the same folder, fsync'ed, validated, renamed, and the folder fsync'ed. A power cut
 * at any moment leaves either nothing or a complete file.
 */
export class AtomicFile {
  private constructor(
    readonly finalPath: string,
    readonly tempPath: string,
    readonly handle: fs.FileHandle,
  ) {}

  static async create(finalPath: string): Promise<AtomicFile> {
    const dir = path.dirname(finalPath);
    await fs.mkdir(dir, { recursive: true }).catch((err) => {
      throw describeFsError(err, dir, 'create the folder');
    });
    const tempPath = path.join(dir, `.${Date.now()}-${randomBytes(3).toString('hex')}.${path.basename(finalPath)}`);
    const handle = await fs.open(tempPath, 'wx', 0o640).catch((err) => {
      throw describeFsError(err, dir, 'create a file in');
    });
    return new AtomicFile(finalPath, tempPath, handle);
  }

  /** fsync, optional validation of the complete temp file, rename into place, fsync the folder. */
  async commit(validate?: (tempPath: string, handle: fs.FileHandle) => Promise<void>): Promise<void> {
    await this.seal(validate);
    await this.place();
  }

  /**
   * The first half of commit: fsync, optional validation, close; the temp file stays under its temp name.
   * Lets a caller writing several files rename them only once all are complete (see place()).
   */
  async seal(validate?: (tempPath: string, handle: fs.FileHandle) => Promise<void>): Promise<void> {
    try {
      await this.handle.sync();
      if (validate) await validate(this.tempPath, this.handle);
      await this.handle.close();
    } catch (err) {
      await this.abort();
      throw describeFsError(err, this.finalPath, 'finish writing');
    }
  }

  /** The second half of commit: rename the sealed temp file into place (never over a file), fsync the folder. */
  async place(): Promise<void> {
    try {
      // Never replace a finished file: a name already taken means two writers, which the lock should prevent.
      if (
        await fs.stat(this.finalPath).then(
          () => true,
          () => false,
        )
      ) {
        throw Object.assign(new Error(`${path.basename(this.finalPath)} already exists`), { code: 'EEXIST' });
      }
      await fs.rename(this.tempPath, this.finalPath);
    } catch (err) {
      await fs.unlink(this.tempPath).catch(() => {});
      throw describeFsError(err, this.finalPath, 'rename into place');
    }
    await syncDir(path.dirname(this.finalPath));
  }

  /** Closes and removes the temp file; safe to call more than once. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await fs.unlink(this.tempPath).catch(() => {});
  }
}

export async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; NTFS orders the rename itself.
  if (process.platform === 'win32') return;
  const h = await fs.open(dir, 'r').catch(() => undefined);
  if (!h) return;
  await h.sync().catch(() => {});
  await h.close().catch(() => {});
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
