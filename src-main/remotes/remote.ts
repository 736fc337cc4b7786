import type { Readable } from 'node:stream';
import type { RandomAccessFile } from '../core/random-access-file.js';

/**
 * Everything the repository needs from a place that stores files. Keys are relative, '/'-separated names
 * (`xo-vm-backups/<vm>/<ts>.json`); a remote refuses any key that would leave it (see remote-key.ts), so a
 * hostile metadata file cannot make Sluice read or delete outside the repository.
 *
 * The shape is the one the weakest medium can offer. An object store has no rename, no append and no folders,
 * but it has put-if-absent and multipart uploads: `beginNew` is a multipart upload whose `place` completes it,
 * `list` is a delimiter listing, `syncFolder` does nothing. An SMB client (smb2 over TCP, no kernel mount) has
 * rename and in-place writes, and flushes per handle. The folder remote (local disk or an OS mount) is the
 * reference: temp file, fsync, rename, folder fsync.
 */
export interface Remote {
  /** How an admin names this remote in a message: a path, or a URL without credentials. */
  readonly label: string;
  readonly capabilities: RemoteCapabilities;
  /** True where every file is encrypted at rest (XO's encrypted remotes, `encrypted-remote.ts`); unset: no. */
  readonly encrypted?: boolean;
  /** For a layer over another remote (encryption): the remote its files are stored on. */
  readonly inner?: Remote;
  /** How an admin names one file of this remote in a message (a local path, or a URL without credentials). */
  displayPath(key: string): string;

  /** The direct children of a folder prefix ('' is the top); an absent prefix lists as empty. */
  list(prefix: string): Promise<RemoteEntry[]>;
  /** undefined when nothing is stored under the key ('' is the top: whether the remote is there at all). */
  stat(key: string): Promise<RemoteStat | undefined>;
  /** A whole file; at most `maxBytes` (a file larger than that throws, so a hostile file cannot fill memory). */
  read(key: string, opts?: { maxBytes?: number }): Promise<Buffer>;
  /** As read, but undefined when the file does not exist. */
  readIfExists(key: string, opts?: { maxBytes?: number }): Promise<Buffer | undefined>;
  /** `length` bytes at `offset`, fewer only at the end of the file. */
  readRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** A stream of the file (or of `[start, end]`, inclusive like HTTP ranges). */
  createReadStream(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** Positional reads, for VHD chains: ranged GETs on an object store. */
  openRead(key: string): Promise<RandomAccessFile>;

  /** A file that appears complete or not at all, and never replaces one that exists (put-if-absent). */
  writeNew(key: string, data: Buffer | string): Promise<void>;
  /** The streaming form of writeNew, for files too large to hold: see RemoteUpload. */
  beginNew(key: string): Promise<RemoteUpload>;
  /**
   * A small file that replaces the one under the key, if any, as one step: a reader finds the old file or the
   * new one, whole, never neither (the merge's state file). An object store's plain PUT; a folder's temp file
   * renamed over the old one.
   */
  overwrite(key: string, data: Buffer | string): Promise<void>;
  /** In-place updates (the VHD merge); only where `capabilities.inPlaceUpdate`. */
  openUpdate(key: string): Promise<RandomAccessFile>;
  /**
   * Only where `capabilities.rename`. Never over an existing file, unless `replace`: then `to` holds the old
   * file or the new one at every instant (the merge renames the merged VHD over the child it absorbed).
   */
  rename(from: string, to: string, opts?: { replace?: boolean }): Promise<void>;

  /** Removes a file; an absent one is not an error. */
  delete(key: string): Promise<void>;
  /** Removes a folder prefix if nothing is left in it; a medium without folders has nothing to do. */
  removeEmptyFolder(prefix: string): Promise<void>;
  /** What the medium can still take, when it knows. */
  freeSpace(): Promise<{ freeBytes: number; totalBytes: number } | undefined>;
  /** The durability step after renames and deletes in a folder (a folder fsync); a no-op where writes are atomic. */
  syncFolder(prefix: string): Promise<void>;
  /**
   * Only where new files are uploads the medium keeps apart (an object store's multipart uploads): aborts those
   * left unfinished directly in a folder prefix by a process that died before it could abort them (under the
   * folder's lock, nobody else is writing there). Returns their keys. A folder's temp files are found by name.
   */
  abortUnfinishedUploads?(prefix: string): Promise<string[]>;
}

export interface RemoteCapabilities {
  /** Files can be renamed (folders, SMB): the merge can stage and swap. */
  rename: boolean;
  /** Files can be changed in place (folders, SMB): the merge can rewrite a VHD's blocks and BAT. */
  inPlaceUpdate: boolean;
}

export interface RemoteEntry {
  name: string;
  /**
   * 'link' only on folder remotes: listed so that nothing takes a linked file for missing (and, say, the XVA
   * its linked metadata names for an orphan), but never followed.
   */
  kind: 'file' | 'folder' | 'link';
}

export interface RemoteStat {
  kind: 'file' | 'folder';
  size: number;
  mtimeMs: number;
}

/**
 * A new file being written. `seal` makes the bytes durable (and lets the caller validate them) without making
 * the file visible; `place` makes it visible under its key. Writers of several files seal them all, then place
 * them, so a crash leaves either all or none (the metadata, placed last, is what commits a point).
 */
export interface RemoteUpload {
  readonly key: string;
  /** Positional writes into the upload (a multipart upload buffers parts). */
  readonly file: RandomAccessFile;
  /**
   * The memory the upload itself holds at most (an S3 upload's parts in flight and the one filling); undefined
   * where the medium buffers nothing of its own. The transfer counts it in its memory budget.
   */
  readonly memoryBytes?: number;
  seal(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void>;
  place(): Promise<void>;
  /** seal then place. */
  commit(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void>;
  /** Forgets the upload; safe to call more than once and after a failed seal or place. */
  abort(): Promise<void>;
}

/** The remote a layer (encryption) sits on, down to the medium itself: where probes, locks and markers go. */
export function mediumOf(remote: Remote): Remote {
  let r = remote;
  while (r.inner) r = r.inner;
  return r;
}
