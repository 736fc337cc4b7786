import { promises as fs } from 'node:fs';

/**
 * One open file with positional reads and writes: what format code (VHD readers, writers, the merge) needs
 * from a stored file, without knowing where it lives. A folder remote hands out local files; other remotes
 * (an object store's ranged GETs, a staged upload) implement the same shape, with `write` only where the
 * medium can change a file in place.
 */
export interface RandomAccessFile {
  /** For messages: the file as the admin would name it (a path, or remote and key). */
  readonly name: string;
  size(): Promise<number>;
  /** Reads up to `length` bytes at `position` into `buffer` at `offset`; 0 at the end of the file. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes up to `length` bytes; a file opened read-only throws. */
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  truncate(length: number): Promise<void>;
  /** Makes what was written durable (fsync where the medium has one). */
  sync(): Promise<void>;
  /** As sync, without metadata where the medium tells the two apart. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenMode = 'read' | 'update' | 'create-new';

// 'wx+' (read-write) for new files: an SMB mount through FUSE (smbnetfs) fails ftruncate on a write-only handle.
const FLAGS: Record<OpenMode, string> = { read: 'r', update: 'r+', 'create-new': 'wx+' };

class LocalFile implements RandomAccessFile {
  constructor(
    readonly name: string,
    private readonly handle: fs.FileHandle,
    private readonly ownsHandle = true,
  ) {}
  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.handle.read(buffer, offset, length, position)).bytesRead;
  }
  async write(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.handle.write(buffer, offset, length, position)).bytesWritten;
  }
  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }
  sync(): Promise<void> {
    return this.handle.sync();
  }
  datasync(): Promise<void> {
    return this.handle.datasync();
  }
  async close(): Promise<void> {
    if (this.ownsHandle) await this.handle.close();
  }
}

/** A file on a local (or OS-mounted) file system. Errors are Node's, with their `code`, for the caller to word. */
export async function openLocalFile(path: string, mode: OpenMode): Promise<RandomAccessFile> {
  return new LocalFile(path, await fs.open(path, FLAGS[mode], 0o644));
}

/**
 * A local file opened by its owner with flags of its own (the spool's private read-write file). With
 * `borrowed`, closing it leaves the handle open for the one who lent it (a DurableFile, whose seal closes it).
 */
export function localFileOf(name: string, handle: fs.FileHandle, opts: { borrowed?: boolean } = {}): RandomAccessFile {
  return new LocalFile(name, handle, !opts.borrowed);
}

/** Thrown when a file ends before the bytes asked for: the caller knows what that means (a truncated VHD…). */
export class ShortReadError extends Error {
  constructor(
    readonly file: string,
    readonly position: number,
    readonly wanted: number,
  ) {
    super(`${file} ends before byte ${position + wanted}`);
    this.name = 'ShortReadError';
  }
}

/** Exactly `length` bytes at `position` (into `into` when it is large enough). */
export async function readExactly(
  file: RandomAccessFile,
  position: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = await file.read(buf, done, length - done, position + done);
    if (n === 0) throw new ShortReadError(file.name, position + done, length - done);
    done += n;
  }
  return buf;
}

/** Writes all of `buf` at `position`; one loop for every positional writer (sinks, VHD writers, the merge). */
export async function writeExactly(file: RandomAccessFile, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await file.write(buf, done, buf.length - done, position + done);
    if (n === 0) throw new Error(`writing ${file.name} made no progress`);
    done += n;
  }
}
