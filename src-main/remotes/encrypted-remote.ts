import { Readable } from 'node:stream';
import { readExactly, writeExactly, type RandomAccessFile } from '../core/random-access-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import { FormatError } from '../formats/format-error.js';
import {
  decryptFile,
  decryptRange,
  decryptStream,
  encryptFile,
  FileEncryptor,
  NONCE_BYTES,
  OVERHEAD_BYTES,
  plainSizeOf,
  type XoAlgorithm,
} from '../formats/xo-encryption/xo-cipher.js';
import { isHandshakeFile, proveEncryption, type RemoteEncryption } from './encryption-handshake.js';
import type { Remote, RemoteEntry, RemoteStat, RemoteUpload } from './remote.js';

/**
 * Files this small are decrypted whole, authenticated, whatever part of them is asked for: a VHD directory's
 * blocks (2 MiB), metadata, aliases. Larger ones (an XVA) are authenticated when streamed whole.
 */
const WHOLE_READ_BYTES = 64 * 1024 * 1024;

/** A remote's key: given, none, or looked up when the remote is first used. */
export type RemoteKeySource = Buffer | undefined | (() => Promise<Buffer | undefined>);

/**
 * A remote encrypted at rest as Xen Orchestra encrypts one, over any other remote (folder, object store):
 * every file of the repository goes through here unchanged in name and encrypted on its own
 * (`formats/xo-encryption`), so the repository code is the same on an encrypted remote, and XO opens it with
 * the same key. Sizes listed are plaintext sizes (encryption adds 28 bytes a file).
 *
 * Without a key it is the guard every remote opened by location goes through: an unencrypted remote passes
 * through untouched, an encrypted one is refused at its first use (never read as garbage, never "cleaned").
 * With a key, the key is proven (`encryption-handshake.ts`) before any other read or write.
 *
 * What XO's format allows and not: a file is one AEAD message with one tag, so it is written front to back
 * (an upload's writes must come in order) and never changed in place (no `openUpdate`: VHD files cannot be
 * merged, which is why XO puts incremental backups on encrypted remotes in VHD directories, one small file a
 * block). A large file is authenticated only when read whole; a part of one (`readRange`) is decrypted from
 * its keystream, unauthenticated, and `openRead` of one is refused.
 */
export class EncryptedRemote implements Remote {
  private proven: Promise<RemoteEncryption> | undefined;
  private known: RemoteEncryption | undefined;

  constructor(
    /** The remote the encrypted files are stored on; its key confinement guards every key. */
    readonly inner: Remote,
    /** The key, none, or where to look it up when first needed (a saved remote's, in the secret store). */
    private readonly key: RemoteKeySource,
    private readonly opts: { algorithm?: XoAlgorithm; wholeReadBytes?: number } = {},
  ) {}

  private get wholeReadBytes(): number {
    return this.opts.wholeReadBytes ?? WHOLE_READ_BYTES;
  }

  get label(): string {
    return this.inner.label;
  }
  /** Encrypted: nothing can change in place. */
  get capabilities() {
    return this.encrypted ? { rename: this.inner.capabilities.rename, inPlaceUpdate: false } : this.inner.capabilities;
  }
  /** Once proven, whether it is; before, whether a key was given (a key looked up later is known once proven). */
  get encrypted(): boolean {
    return this.known ? this.known.algorithm !== 'none' : Buffer.isBuffer(this.key);
  }
  displayPath(key: string): string {
    return this.inner.displayPath(key);
  }

  /** The handshake, once: resolves to how the remote is encrypted, or throws the refusal (for every call). */
  prove(): Promise<RemoteEncryption> {
    return (this.proven ??= (async () => {
      const key = typeof this.key === 'function' ? await this.key() : this.key;
      return (this.known = await proveEncryption(this.inner, key, this.opts));
    })());
  }

  private async cipher(): Promise<{ algorithm: XoAlgorithm; key: Buffer } | undefined> {
    const e = await this.prove();
    return e.algorithm === 'none' ? undefined : e;
  }

  async list(prefix: string): Promise<RemoteEntry[]> {
    const c = await this.cipher();
    const entries = await this.inner.list(prefix);
    return c && prefix === '' ? entries.filter((e) => !isHandshakeFile(e.name)) : entries;
  }

  async stat(key: string): Promise<RemoteStat | undefined> {
    const c = await this.cipher();
    const st = await this.inner.stat(key);
    if (!c || !st || st.kind !== 'file') return st;
    return { ...st, size: plainSizeOf(st.size) };
  }

  async read(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const c = await this.cipher();
    if (!c) return this.inner.read(key, opts);
    return this.decrypt(c, key, await this.inner.read(key, withOverhead(opts)));
  }

  async readIfExists(key: string, opts: { maxBytes?: number } = {}): Promise<Buffer | undefined> {
    const c = await this.cipher();
    if (!c) return this.inner.readIfExists(key, opts);
    const data = await this.inner.readIfExists(key, withOverhead(opts));
    return data === undefined ? undefined : this.decrypt(c, key, data);
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    const c = await this.cipher();
    if (!c) return this.inner.readRange(key, offset, length);
    const size = (await this.inner.stat(key))?.size;
    if (size === undefined || size <= this.wholeReadBytes)
      return (await this.read(key)).subarray(offset, offset + length);
    const plainSize = plainSizeOf(size);
    const end = Math.min(plainSize, offset + length);
    if (offset >= end) return Buffer.alloc(0);
    const nonce = await this.inner.readRange(key, 0, NONCE_BYTES);
    const cipherText = await this.inner.readRange(key, NONCE_BYTES + offset, end - offset);
    return decryptRange(c.algorithm, c.key, nonce, offset, cipherText);
  }

  async createReadStream(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const c = await this.cipher();
    if (!c) return this.inner.createReadStream(key, range);
    if (range) {
      const size = (await this.inner.stat(key))?.size ?? 0;
      const end = range.end === undefined ? plainSizeOf(size) : range.end + 1;
      return Readable.from([await this.readRange(key, range.start, Math.max(0, end - range.start))]);
    }
    const source = (await this.inner.createReadStream(key)) as AsyncIterable<Buffer>;
    const fail = (err: unknown) => this.failure(key, err);
    return Readable.from(
      (async function* () {
        try {
          yield* decryptStream(c.algorithm, c.key, source);
        } catch (err) {
          throw fail(err);
        }
      })(),
      { objectMode: false },
    );
  }

  async openRead(key: string): Promise<RandomAccessFile> {
    const c = await this.cipher();
    if (!c) return this.inner.openRead(key);
    const size = (await this.inner.stat(key))?.size;
    if (size !== undefined && size > this.wholeReadBytes)
      throw new SluiceError(
        'REMOTE_ERROR',
        `${this.displayPath(key)} is encrypted and too large to read in parts: an encrypted file is authenticated only when read whole.`,
        {
          hint: 'On an encrypted remote, incremental backups are VHD directories (small files, one a block), as Xen Orchestra writes them.',
          context: { remote: this.label, file: this.displayPath(key) },
        },
      );
    return memoryFile(this.displayPath(key), await this.read(key));
  }

  async writeNew(key: string, data: Buffer | string): Promise<void> {
    const c = await this.writable(key);
    await this.inner.writeNew(key, c ? encryptFile(c.algorithm, c.key, Buffer.from(data)) : data);
  }

  /** The medium's own leftovers (multipart uploads a dead run left): nothing the layer adds or hides. */
  async abortUnfinishedUploads(prefix: string): Promise<string[]> {
    return (await this.inner.abortUnfinishedUploads?.(prefix)) ?? [];
  }

  async beginNew(key: string): Promise<RemoteUpload> {
    const c = await this.writable(key);
    const upload = await this.inner.beginNew(key);
    if (!c) return upload;
    try {
      return await EncryptingUpload.start(upload, c.algorithm, c.key);
    } catch (err) {
      await upload.abort();
      throw err;
    }
  }

  async overwrite(key: string, data: Buffer | string): Promise<void> {
    const c = await this.writable(key);
    await this.inner.overwrite(key, c ? encryptFile(c.algorithm, c.key, Buffer.from(data)) : data);
  }

  async openUpdate(key: string): Promise<RandomAccessFile> {
    const c = await this.cipher();
    if (!c) return this.inner.openUpdate(key);
    throw new SluiceError('REMOTE_ERROR', `${this.displayPath(key)} is encrypted: it cannot be changed in place.`, {
      hint: 'An encrypted file is one authenticated message, rewritten whole or not at all.',
      context: { remote: this.label, file: this.displayPath(key) },
    });
  }

  async rename(from: string, to: string, opts?: { replace?: boolean }): Promise<void> {
    await this.writable(from);
    await this.writable(to);
    await this.inner.rename(from, to, opts);
  }

  async delete(key: string): Promise<void> {
    await this.writable(key);
    await this.inner.delete(key);
  }

  async removeEmptyFolder(prefix: string): Promise<void> {
    await this.prove();
    await this.inner.removeEmptyFolder(prefix);
  }

  freeSpace(): Promise<{ freeBytes: number; totalBytes: number } | undefined> {
    return this.inner.freeSpace();
  }

  async syncFolder(prefix: string): Promise<void> {
    await this.prove();
    await this.inner.syncFolder(prefix);
  }

  /** The cipher for a change to `key`, once the key is proven; the handshake's own files are never changed here. */
  private async writable(key: string): Promise<{ algorithm: XoAlgorithm; key: Buffer } | undefined> {
    const c = await this.cipher();
    if (c && isHandshakeFile(key))
      throw new SluiceError('REMOTE_ERROR', `Refused to change ${this.displayPath(key)}: it proves the remote's key.`, {
        context: { remote: this.label, file: this.displayPath(key) },
      });
    return c;
  }

  private decrypt(c: { algorithm: XoAlgorithm; key: Buffer }, key: string, data: Buffer): Buffer {
    try {
      return decryptFile(c.algorithm, c.key, data);
    } catch (err) {
      throw this.failure(key, err);
    }
  }

  /** A file that does not decrypt, named, as damage verify and check report and restore refuses. */
  private failure(key: string, err: unknown): unknown {
    if (!(err instanceof FormatError)) return err;
    const file = this.displayPath(key);
    return new SluiceError('REMOTE_ERROR', `The encrypted file ${file} is damaged: ${err.message}.`, {
      hint: 'It cannot be used: it was changed or damaged on the remote after it was written. Use another backup point, and check the storage.',
      context: { remote: this.label, file },
      damage: { kind: err.damage === 'truncated' ? 'truncated' : 'authentication', file },
    });
  }
}

function withOverhead(opts: { maxBytes?: number }): { maxBytes?: number } {
  return opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes + OVERHEAD_BYTES };
}

/**
 * An upload encrypted as it is written. Writes must come in order (each at the end of what was written, as a
 * stream sink writes): the cipher is a stream. A retried transfer starts over from an emptied file (a new
 * nonce); `seal` adds the tag, then seals the file below.
 */
class EncryptingUpload implements RemoteUpload {
  readonly file: EncryptingFile;

  private constructor(
    private readonly inner: RemoteUpload,
    algorithm: XoAlgorithm,
    key: Buffer,
  ) {
    this.file = new EncryptingFile(inner.file, algorithm, key);
  }

  static async start(inner: RemoteUpload, algorithm: XoAlgorithm, key: Buffer): Promise<EncryptingUpload> {
    const u = new EncryptingUpload(inner, algorithm, key);
    await u.file.truncate(0);
    return u;
  }

  get key(): string {
    return this.inner.key;
  }

  /** The medium's part buffers (an S3 upload's), which count in a backup's memory budget. */
  get memoryBytes(): number | undefined {
    return this.inner.memoryBytes;
  }

  async seal(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    await this.file.finish();
    await this.inner.seal(validate ? () => validate(this.file) : undefined);
  }
  place(): Promise<void> {
    return this.inner.place();
  }
  async commit(validate?: (file: RandomAccessFile) => Promise<void>): Promise<void> {
    await this.seal(validate);
    await this.place();
  }
  abort(): Promise<void> {
    return this.inner.abort();
  }
}

/** The plaintext side of an upload's file: positions are plaintext positions, the nonce sits before them. */
class EncryptingFile implements RandomAccessFile {
  private encryptor: FileEncryptor;
  private written = 0;
  private finished = false;

  constructor(
    private readonly inner: RandomAccessFile,
    private readonly algorithm: XoAlgorithm,
    private readonly cipherKey: Buffer,
  ) {
    this.encryptor = new FileEncryptor(algorithm, cipherKey);
  }

  get name(): string {
    return this.inner.name;
  }
  async size(): Promise<number> {
    return this.written;
  }

  /** What this upload wrote, read back through the keystream (a validator looks at what it wrote). */
  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const n = Math.max(0, Math.min(length, this.written - position));
    if (n === 0) return 0;
    const c = await readExactly(this.inner, NONCE_BYTES + position, n);
    decryptRange(this.algorithm, this.cipherKey, this.encryptor.nonce, position, c).copy(buffer, offset);
    return n;
  }

  async write(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (this.finished || position !== this.written)
      throw new SluiceError(
        'INTERNAL',
        `${this.name} is encrypted as it is written: a write at byte ${position} where ${this.written} were written cannot be.`,
        { hint: 'This is a bug in Sluice; nothing was placed on the remote.' },
      );
    // Ciphered now, in call order: writes still in flight below do not change the order of the stream.
    const data = this.encryptor.update(buffer.subarray(offset, offset + length));
    this.written += length;
    await writeExactly(this.inner, data, NONCE_BYTES + position);
    return length;
  }

  /** Only to empty the file (a transfer starting over): a new nonce, nothing written yet. */
  async truncate(length: number): Promise<void> {
    if (length !== 0) throw new SluiceError('INTERNAL', `${this.name} is encrypted: it can only be emptied, not cut.`);
    await this.inner.truncate(0);
    this.encryptor = new FileEncryptor(this.algorithm, this.cipherKey);
    this.written = 0;
    this.finished = false;
    await writeExactly(this.inner, this.encryptor.nonce, 0);
  }

  /** The tag after the last byte; no write after it. */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await writeExactly(this.inner, this.encryptor.finish(), NONCE_BYTES + this.written);
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }
  datasync(): Promise<void> {
    return this.inner.datasync();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A decrypted (authenticated) small file, served from memory for positional reads. */
function memoryFile(name: string, data: Buffer): RandomAccessFile {
  const readOnly = async (): Promise<never> => {
    throw new SluiceError('INTERNAL', `${name} was opened for reading only.`);
  };
  return {
    name,
    size: async () => data.length,
    read: async (buffer, offset, length, position) => {
      if (position >= data.length) return 0;
      return data.copy(buffer, offset, position, Math.min(data.length, position + length));
    },
    write: readOnly,
    truncate: readOnly,
    sync: async () => {},
    datasync: async () => {},
    close: async () => {},
  };
}
