import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { DurableFile, syncDir, writeFileDurably } from '../core/durable-file.js';
import { localFileOf, openLocalFile, writeExactly, type RandomAccessFile } from '../core/random-access-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { diskSpace } from './folder-remote.js';
import type { Remote, RemoteEntry, RemoteStat, RemoteUpload } from './remote.js';
import { keySegments, outsideRepository } from './remote-key.js';

/**
 * The folder remote: a local disk or anything the OS mounts (NFS, SMB, a UNC path on Windows). New files are
 * written to a dot-named temp file beside their final name, fsync'ed, renamed, and the folder fsync'ed.
 * Every key is checked twice: by name (remote-key.ts) and, since a folder can hold links, by where the file
 * really is: a link that leads out of the folder is refused, for reads as much as for deletes.
 */
export class FolderRemote implements Remote {
  readonly capabilities = { rename: true, inPlaceUpdate: true };
  private realRoot: string | undefined;

  constructor(readonly root: string) {}

  get label(): string {
    return this.root;
  }

  async list(prefix: string): Promise<RemoteEntry[]> {
    const dir = await this.confined(prefix, { allowTop: true });
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw describeFsError(err, dir, 'read');
    });
    const out: RemoteEntry[] = [];
    for (const e of entries) {
      if (e.isDirectory()) out.push({ name: e.name, kind: 'folder' });
      else if (e.isFile()) out.push({ name: e.name, kind: 'file' });
      else if (e.isSymbolicLink()) out.push({ name: e.name, kind: 'link' });
    }
    return out;
  }

  async stat(key: string): Promise<RemoteStat | undefined> {
    const p = await this.confined(key, { allowTop: true });
    const st = await fs.stat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw describeFsError(err, p, 'read');
    });
    if (!st) return undefined;
    return { kind: st.isDirectory() ? 'folder' : 'file', size: st.size, mtimeMs: st.mtimeMs };
  }

  async read(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const data = await this.readIfExists(key, opts);
    if (data === undefined)
      throw describeFsError(Object.assign(new Error('not found'), { code: 'ENOENT' }), this.pathOf(key), 'read');
    return data;
  }

  async readIfExists(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer | undefined> {
    const p = await this.confined(key);
    const h = await fs.open(p, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw describeFsError(err, p, 'read');
    });
    if (!h) return undefined;
    try {
      const { size } = await h.stat();
      if (opts.maxBytes !== undefined && size > opts.maxBytes) throw tooLarge(p, size, opts.maxBytes);
      return await h.readFile();
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      throw describeFsError(err, p, 'read');
    } finally {
      await h.close().catch(() => {});
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const p = await this.confined(key);
    const h = await fs.open(p, 'r').catch((err) => {
      throw describeFsError(err, p, 'read');
    });
    try {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await h.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    } finally {
      await h.close().catch(() => {});
    }
  }

  async createReadStream(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const p = await this.confined(key);
    // 1 MiB reads: the default 64 KiB costs a syscall per 64 KiB on a multi-GiB XVA.
    return createReadStream(p, {
      highWaterMark: 1024 * 1024,
      ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {}),
    });
  }

  async openRead(key: string): Promise<RandomAccessFile> {
    const p = await this.confined(key);
    return openLocalFile(p, 'read').catch((err) => {
      throw describeFsError(err, p, 'read');
    });
  }

  async openUpdate(key: string): Promise<RandomAccessFile> {
    const p = await this.confined(key);
    return openLocalFile(p, 'update').catch((err) => {
      throw describeFsError(err, p, 'open for writing');
    });
  }

  async writeNew(key: string, data: Buffer | string): Promise<void> {
    const upload = await this.beginNew(key);
    try {
      await writeExactly(upload.file, Buffer.from(data), 0);
    } catch (err) {
      await upload.abort();
      throw describeFsError(err, this.pathOf(key), 'write');
    }
    await upload.commit();
  }

  async beginNew(key: string): Promise<RemoteUpload> {
    const p = await this.confined(key);
    const dir = path.dirname(p);
    await fs.mkdir(dir, { recursive: true }).catch((err) => {
      throw describeFsError(err, dir, 'create the folder');
    });
    // The folder may have been created just now, through a link made meanwhile: look again before writing.
    await this.confined(key);
    const durable = await DurableFile.open(p).catch((err) => {
      throw describeFsError(err, dir, 'create a file in');
    });
    return new FolderUpload(key, durable);
  }

  async overwrite(key: string, data: Buffer | string): Promise<void> {
    const p = await this.confined(key);
    // A name that starts with a dot (a merge state, `.<vhd>.merge.json`) keeps its form under the usual
    // `.<tag>.<name>` temp name and would be taken for one: its temp name ends in `.tmp` instead.
    const tempName = (name: string, tag: string) => (name.startsWith('.') ? `${name}.${tag}.tmp` : `.${tag}.${name}`);
    await writeFileDurably(p, data, { replace: true, tempName }).catch((err) => {
      throw describeFsError(err, p, 'write');
    });
  }

  async rename(from: string, to: string, opts: { replace?: boolean } = {}): Promise<void> {
    const a = await this.confined(from);
    const b = await this.confined(to);
    if (
      !opts.replace &&
      (await fs.stat(b).then(
        () => true,
        () => false,
      ))
    )
      throw describeFsError(Object.assign(new Error('exists'), { code: 'EEXIST' }), b, 'rename into place');
    await fs.rename(a, b).catch((err) => {
      throw describeFsError(err, b, 'rename into place');
    });
  }

  async delete(key: string): Promise<void> {
    const p = await this.confined(key);
    await fs.rm(p, { force: true }).catch((err) => {
      throw describeFsError(err, p, 'delete');
    });
  }

  async removeEmptyFolder(prefix: string): Promise<void> {
    const p = await this.confined(prefix);
    await fs.rmdir(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTEMPTY' || err.code === 'EEXIST') return;
      throw describeFsError(err, p, 'delete');
    });
  }

  async freeSpace(): Promise<{ freeBytes: number; totalBytes: number } | undefined> {
    const space = await diskSpace(this.root);
    // A file system of 0 blocks does not know (smbnetfs, an SMB mount through FUSE, says 0 of 0): unknown, not full.
    return space.totalBytes > 0 ? space : undefined;
  }

  async syncFolder(prefix: string): Promise<void> {
    await syncDir(await this.confined(prefix, { allowTop: true }));
  }

  displayPath(key: string): string {
    return this.pathOf(key);
  }

  /** The local path of a key, by name only (for messages); confined() is what guards access. */
  pathOf(key: string): string {
    return path.join(this.root, ...keySegments(key, this.label, { allowTop: true }));
  }

  /**
   * The path of a key once it is proven to stay inside the folder: by name, and by where its deepest existing
   * ancestor (or the file itself) really is, so a link anywhere on the way out is caught.
   */
  private async confined(key: string, opts: { allowTop?: boolean } = {}): Promise<string> {
    const p = path.join(this.root, ...keySegments(key, this.label, opts));
    const root = this.realRoot ?? (this.realRoot = await fs.realpath(this.root).catch(() => undefined));
    // A folder that is not there holds nothing, and so no link out: its keys are simply absent (stat, list).
    if (root === undefined) return p;
    let probe = p;
    for (;;) {
      const real = await fs.realpath(probe).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
        throw describeFsError(err, probe, 'read');
      });
      if (real !== undefined) {
        if (real !== root && !real.startsWith(root + path.sep)) throw outsideRepository(key, this.label);
        return p;
      }
      const up = path.dirname(probe);
      if (up === probe) return p;
      probe = up;
    }
  }
}

class FolderUpload implements RemoteUpload {
  readonly file: RandomAccessFile;
  constructor(
    readonly key: string,
    private readonly durable: DurableFile,
  ) {
    // The DurableFile owns the handle: its seal() closes it.
    this.file = localFileOf(durable.finalPath, durable.handle, { borrowed: true });
  }
  async seal(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    await this.durable.seal(validate ? () => validate(this.file) : undefined).catch((err) => {
      if (err instanceof SluiceError) throw err;
      throw describeFsError(err, this.durable.finalPath, 'finish writing');
    });
  }
  async place(): Promise<void> {
    await this.durable.place().catch((err) => {
      throw describeFsError(err, this.durable.finalPath, 'rename into place');
    });
  }
  async commit(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    await this.seal(validate);
    await this.place();
  }
  abort(): Promise<void> {
    return this.durable.abort();
  }
}

function tooLarge(p: string, size: number, max: number): SluiceError {
  return new SluiceError('REMOTE_ERROR', `${p} is ${size} bytes, more than the ${max} such a file can hold.`, {
    hint: 'The file is damaged or was not written by a backup tool; move it out of the repository and run check.',
    damage: { kind: 'size', file: p },
  });
}

/**
 * A folder (a local disk or a share the OS mounts) is any location that is not a URL: `/mnt/nas/backups`,
 * `backups`, `D:\\backups` (a drive letter is not a scheme: it has no `//`). Only a full path names one place:
 * `backups` would be wherever Sluice happened to start. UNC paths (\\\\server\\share) are full on Windows.
 */
export const folderRemoteKind = {
  name: 'a folder (a local disk or a mounted share)',
  accepts: (location: string): boolean => !/^[a-z][a-z0-9+.-]+:\/\//i.test(location),
  check: (location: string): void => {
    if (path.isAbsolute(location) || location.startsWith('\\\\')) return;
    throw new SluiceError('VALIDATION', `"${location}" is not an absolute folder path.`, {
      hint: 'Use the full path of a local folder or a mounted share, e.g. /mnt/backups or \\\\nas\\backups.',
      context: { remote: location },
    });
  },
  open: (location: string): Remote => new FolderRemote(location),
};
