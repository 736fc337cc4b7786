import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** What a validation step of a complete temp file gets, before the file takes its final name. */
export type ValidateTemp = (tempPath: string, handle: fs.FileHandle) => Promise<void>;

/**
 * A file that appears under its final name only once it is complete and durable: written to `.<time>.<name>`
 * (created exclusively) in the same folder, fsync'ed, optionally validated, renamed, and the folder fsync'ed.
 * A power cut at any moment leaves the old state (nothing, or the file it replaces) or the complete new file.
 * Errors are the file system's own: the caller knows which side (remote, data dir) to describe them for.
 */
export class DurableFile {
  private constructor(
    readonly finalPath: string,
    readonly tempPath: string,
    readonly handle: fs.FileHandle,
  ) {}

  /**
   * Opens the temp file; the folder must exist. `mode` is the final file's. `tempName` overrides the temp
   * file's name (from the final name and a unique tag) for files whose own name already starts with a dot.
   */
  static async open(
    finalPath: string,
    mode = 0o640,
    tempName: (name: string, tag: string) => string = (name, tag) => `.${tag}.${name}`,
  ): Promise<DurableFile> {
    const dir = path.dirname(finalPath);
    const tag = `${Date.now()}-${randomBytes(3).toString('hex')}`;
    const tempPath = path.join(dir, tempName(path.basename(finalPath), tag));
    // Read-write ('wx+'), not write-only: smbnetfs (an SMB mount through FUSE) fails ftruncate on a write-only
    // handle with EIO, and writers cut files to size (a VHD's trailing footer, a sparse export).
    return new DurableFile(finalPath, tempPath, await fs.open(tempPath, 'wx+', mode));
  }

  /** seal() then place(). */
  async commit(validate?: ValidateTemp, opts: { replace?: boolean } = {}): Promise<void> {
    await this.seal(validate);
    await this.place(opts);
  }

  /**
   * The first half of commit: fsync, optional validation, close; the temp file stays under its temp name (and
   * is removed if a step fails). Lets a caller writing several files rename them only once all are complete.
   */
  async seal(validate?: ValidateTemp): Promise<void> {
    try {
      await this.handle.sync();
      if (validate) await validate(this.tempPath, this.handle);
      await this.handle.close();
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /**
   * The second half of commit: rename the sealed temp file into place and fsync the folder. Without `replace`
   * a file already there is an error (EEXIST), never overwritten: for new files, a taken name means two writers.
   */
  async place(opts: { replace?: boolean } = {}): Promise<void> {
    try {
      if (!opts.replace && (await exists(this.finalPath))) {
        throw Object.assign(new Error(`${path.basename(this.finalPath)} already exists`), { code: 'EEXIST' });
      }
      await fs.rename(this.tempPath, this.finalPath);
    } catch (err) {
      await fs.unlink(this.tempPath).catch(() => {});
      throw err;
    }
    await syncDir(path.dirname(this.finalPath));
  }

  /** Closes and removes the temp file; safe to call more than once. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await fs.unlink(this.tempPath).catch(() => {});
  }
}

/** Writes a whole file durably (see DurableFile), replacing the one there when asked. */
export async function writeFileDurably(
  finalPath: string,
  data: string | Buffer,
  opts: { mode?: number; replace?: boolean; tempName?: (name: string, tag: string) => string } = {},
): Promise<void> {
  const f = await DurableFile.open(finalPath, opts.mode, opts.tempName);
  try {
    await f.handle.writeFile(data);
  } catch (err) {
    await f.abort();
    throw err;
  }
  await f.commit(undefined, { replace: opts.replace });
}

export async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; NTFS orders the rename itself.
  if (process.platform === 'win32') return;
  const h = await fs.open(dir, 'r').catch(() => undefined);
  if (!h) return;
  await h.sync().catch(() => {});
  await h.close().catch(() => {});
}

function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}
