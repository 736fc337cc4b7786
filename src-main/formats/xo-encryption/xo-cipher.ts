import { createCipheriv, createDecipheriv, randomBytes, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { FormatError } from '../format-error.js';

// Xen Orchestra's encrypted files (@xen-orchestra/fs, `_encryptor.js`), read there for the facts:
// - every file is encrypted on its own, as one AEAD message: `nonce (12 bytes) | ciphertext | tag (16 bytes)`,
//   with a random nonce per file, no associated data, and the ciphertext exactly as long as the plaintext
//   (both algorithms are stream ciphers: no padding);
// - the key is the text the admin typed, its UTF-8 bytes used as they are (no derivation): 32 bytes exactly,
//   which XO's form asks for as "32 characters";
// - chacha20-poly1305 (RFC 8439) is XO's default since February 2025, aes-256-gcm the older one (at most
//   64 GiB a file). Both are read; new remotes get chacha20-poly1305, as XO's do.
// One tag a file means a file is authenticated only when read whole; see `decryptRange` for reads of a part.

export const XO_ALGORITHMS = ['chacha20-poly1305', 'aes-256-gcm'] as const;
export type XoAlgorithm = (typeof XO_ALGORITHMS)[number];
export const DEFAULT_XO_ALGORITHM: XoAlgorithm = 'chacha20-poly1305';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** What encryption adds to every file: its nonce before, its tag after. */
export const OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;
export const KEY_BYTES = 32;

export function isXoAlgorithm(name: unknown): name is XoAlgorithm {
  return (XO_ALGORITHMS as readonly unknown[]).includes(name);
}

/**
 * The key of an encrypted remote from the text the admin wrote down: its UTF-8 bytes, 32 of them, as XO
 * uses it. Returns undefined when the text is not 32 bytes long (the caller says so in its own words).
 */
export function xoKeyOf(text: string): Buffer | undefined {
  const key = Buffer.from(text, 'utf8');
  return key.length === KEY_BYTES ? key : undefined;
}

/** The plaintext length of an encrypted file of `size` bytes (0 for a file too short to be one). */
export function plainSizeOf(size: number): number {
  return Math.max(0, size - OVERHEAD_BYTES);
}

function cipherOf(algorithm: XoAlgorithm, key: Buffer, nonce: Buffer): CipherGCM {
  // Node types chacha20-poly1305 as its own AEAD cipher; both have update/final/getAuthTag.
  return createCipheriv(algorithm as 'aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
}

function decipherOf(algorithm: XoAlgorithm, key: Buffer, nonce: Buffer): DecipherGCM {
  return createDecipheriv(algorithm as 'aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
}

/** A whole file, encrypted as XO writes one. */
export function encryptFile(algorithm: XoAlgorithm, key: Buffer, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const c = cipherOf(algorithm, key, nonce);
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]);
}

/**
 * A whole encrypted file, authenticated. Throws a FormatError: 'truncated' when it is too short to hold its
 * nonce and tag, 'authentication' when the tag does not match (a changed byte, a cut file, another key).
 */
export function decryptFile(algorithm: XoAlgorithm, key: Buffer, data: Buffer): Buffer {
  if (data.length < OVERHEAD_BYTES)
    throw new FormatError(
      'truncated',
      `it is ${data.length} bytes, less than the ${OVERHEAD_BYTES} every encrypted file has`,
      data.length,
    );
  const d = decipherOf(algorithm, key, data.subarray(0, NONCE_BYTES));
  d.setAuthTag(data.subarray(data.length - TAG_BYTES));
  const plain = d.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES));
  try {
    return Buffer.concat([plain, d.final()]);
  } catch {
    throw authenticationFailed(data.length);
  }
}

function authenticationFailed(size: number): FormatError {
  return new FormatError(
    'authentication',
    'its authentication tag does not match its content (changed or damaged after it was written, or encrypted with another key)',
    size,
  );
}

/**
 * A file encrypted as it is written, front to back: `start()` is its first bytes (the nonce), each `update`
 * the ciphertext of the next plaintext, `finish()` the last bytes (the tag).
 */
export class FileEncryptor {
  private cipher: CipherGCM;
  readonly nonce: Buffer;
  constructor(algorithm: XoAlgorithm, key: Buffer) {
    this.nonce = randomBytes(NONCE_BYTES);
    this.cipher = cipherOf(algorithm, key, this.nonce);
  }
  update(plain: Buffer): Buffer {
    return this.cipher.update(plain);
  }
  finish(): Buffer {
    return Buffer.concat([this.cipher.final(), this.cipher.getAuthTag()]);
  }
}

/**
 * Plaintext of a whole encrypted file read as a stream, authenticated. The tag is the file's last 16 bytes,
 * so it is only known at the end; until it is checked, the last `holdBackBytes` of plaintext are kept back,
 * so a reader of a changed or cut file never receives all of it (a host importing an XVA gets no end of
 * archive and refuses it), and the failure is thrown where the stream ends.
 */
export async function* decryptStream(
  algorithm: XoAlgorithm,
  key: Buffer,
  source: AsyncIterable<Buffer>,
  opts: { holdBackBytes?: number } = {},
): AsyncGenerator<Buffer> {
  const holdBack = opts.holdBackBytes ?? 1024 * 1024;
  let head: Buffer = Buffer.alloc(0);
  let decipher: DecipherGCM | undefined;
  // Ciphertext not yet deciphered: at least the last TAG_BYTES seen, which may be the tag.
  let tail: Buffer = Buffer.alloc(0);
  const held: Buffer[] = [];
  let heldBytes = 0;
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    let data: Buffer = chunk;
    if (!decipher) {
      head = Buffer.concat([head, data]);
      if (head.length < NONCE_BYTES) continue;
      decipher = decipherOf(algorithm, key, head.subarray(0, NONCE_BYTES));
      data = head.subarray(NONCE_BYTES);
    }
    const all = tail.length ? Buffer.concat([tail, data]) : data;
    if (all.length <= TAG_BYTES) {
      tail = all;
      continue;
    }
    tail = Buffer.from(all.subarray(all.length - TAG_BYTES));
    const plain = decipher.update(all.subarray(0, all.length - TAG_BYTES));
    held.push(plain);
    heldBytes += plain.length;
    while (held.length > 1 && heldBytes - held[0]!.length >= holdBack) {
      const out = held.shift()!;
      heldBytes -= out.length;
      yield out;
    }
  }
  if (!decipher || tail.length < TAG_BYTES)
    throw new FormatError(
      'truncated',
      `it is ${total} bytes, less than the ${OVERHEAD_BYTES} every encrypted file has`,
      total,
    );
  decipher.setAuthTag(tail);
  let last: Buffer;
  try {
    last = decipher.final();
  } catch {
    throw authenticationFailed(total);
  }
  for (const b of held) yield b;
  if (last.length) yield last;
}

/**
 * Plaintext bytes `[offset, offset + ciphertext.length)` of a file whose nonce is `nonce`, from the matching
 * ciphertext alone, by starting the keystream where those bytes are (chacha20: block counter 1 + offset/64,
 * RFC 8439; aes-256-gcm: counter block 2 + offset/16, NIST SP 800-38D with a 96-bit nonce). NOT authenticated:
 * the tag covers the whole file and cannot be checked without reading all of it. For looking at a part of a
 * large file only (an XVA's first bytes tell its compression); whoever acts on the bytes reads the file whole.
 */
export function decryptRange(
  algorithm: XoAlgorithm,
  key: Buffer,
  nonce: Buffer,
  offset: number,
  ciphertext: Buffer,
): Buffer {
  const blockBytes = algorithm === 'chacha20-poly1305' ? 64 : 16;
  const block = Math.floor(offset / blockBytes);
  const counterBlock = Buffer.alloc(16);
  let d;
  if (algorithm === 'chacha20-poly1305') {
    // OpenSSL's chacha20 IV: the 32-bit block counter, little-endian, then the 96-bit nonce.
    counterBlock.writeUInt32LE((1 + block) >>> 0, 0);
    nonce.copy(counterBlock, 4);
    d = createDecipheriv('chacha20', key, counterBlock);
  } else {
    nonce.copy(counterBlock, 0);
    counterBlock.writeUInt32BE((2 + block) % 2 ** 32, 12);
    d = createDecipheriv('aes-256-ctr', key, counterBlock);
  }
  const skip = offset - block * blockBytes;
  const out = d.update(Buffer.concat([Buffer.alloc(skip), ciphertext]));
  return out.subarray(skip);
}
