import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src-main/formats/format-error.js';
import {
  decryptFile,
  decryptRange,
  decryptStream,
  encryptFile,
  FileEncryptor,
  OVERHEAD_BYTES,
  xoKeyOf,
  XO_ALGORITHMS,
} from '../../src-main/formats/xo-encryption/xo-cipher.js';
import { pythonDecrypt as pyDecrypt, pythonEncrypt as pyEncrypt } from '../helpers/python-aead.js';

// The key of XO's own encryptor tests: 32 characters, used as their bytes.
const KEY = xoKeyOf('73c1838d7d8a6088ca2317fb5f29cd91')!;
const OTHER = xoKeyOf('00000000000000000000000000000000')!;

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

async function* chunked(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(at, at + n);
    at += n;
  }
}

describe('the key', () => {
  it('is the 32 bytes of what the admin typed, and nothing else is one', () => {
    expect(xoKeyOf('73c1838d7d8a6088ca2317fb5f29cd91')).toEqual(Buffer.from('73c1838d7d8a6088ca2317fb5f29cd91'));
    expect(xoKeyOf('short')).toBeUndefined();
    expect(xoKeyOf('73c1838d7d8a6088ca2317fb5f29cd91 ')).toBeUndefined();
    // 32 characters, but not 32 bytes: XO could not use it either.
    expect(xoKeyOf('é'.repeat(32))).toBeUndefined();
  });
});

// Golden files: a metadata.json as XO writes one (its `{"random":uuid}`), with the key of XO's own tests and the
// nonce 00 01 … 0b, computed once with Python's cryptography (see test/helpers/python-aead.ts).
const GOLDEN_PLAIN = '{"random":"0f8fad5b-d9cb-469f-a165-70867728950e"}';
const GOLDEN = {
  'chacha20-poly1305':
    '000102030405060708090a0b33cdb6522ae8ccf244dad7c7d88541c61fd53e93350766c38d03f7ecbd776e15daa8ece7fbbb60732a80d8f6d6596b6dedc62255f55ff0123b88b1fa27d8af2289',
  'aes-256-gcm':
    '000102030405060708090a0b369c578305c4d452ff77e59878b13a863e4e3bca36b8b8d757400e2ec846ac0e44cbd6548aa5c7e31f4fcd62a7e9ddab8a0dddda7bf036a56e9ee98a91ea22f327',
} as const;

describe('golden files', () => {
  it.each(XO_ALGORITHMS)(
    '%s: a fixed file decrypts to its known plaintext, by whole, stream and range reads',
    async (alg) => {
      const file = Buffer.from(GOLDEN[alg], 'hex');
      expect(decryptFile(alg, KEY, file).toString()).toBe(GOLDEN_PLAIN);
      expect((await collect(decryptStream(alg, KEY, chunked(file, [7])))).toString()).toBe(GOLDEN_PLAIN);
      expect(decryptRange(alg, KEY, file.subarray(0, 12), 11, file.subarray(12 + 11, 12 + 47)).toString()).toBe(
        GOLDEN_PLAIN.slice(11, 47),
      );
    },
  );
});

describe.each(XO_ALGORITHMS)('%s files', (alg) => {
  const plain = randomBytes(1024 * 1024 + 1);

  it('round-trips whole, with nonce and tag around a ciphertext as long as the plaintext', () => {
    const file = encryptFile(alg, KEY, plain);
    expect(file.length).toBe(plain.length + OVERHEAD_BYTES);
    expect(file.subarray(12, 12 + 64).equals(plain.subarray(0, 64))).toBe(false);
    expect(decryptFile(alg, KEY, file).equals(plain)).toBe(true);
    // A fresh nonce per file: the same plaintext never gives the same file.
    expect(encryptFile(alg, KEY, plain).subarray(0, 12).equals(file.subarray(0, 12))).toBe(false);
    expect(decryptFile(alg, KEY, encryptFile(alg, KEY, Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
  });

  it('is the layout another implementation writes and reads (byte compatibility)', () => {
    const small = randomBytes(100_003);
    expect(decryptFile(alg, KEY, pyEncrypt(alg, KEY, small)).equals(small)).toBe(true);
    expect(pyDecrypt(alg, KEY, encryptFile(alg, KEY, small)).equals(small)).toBe(true);
    const streamed = new FileEncryptor(alg, KEY);
    const file = Buffer.concat([
      streamed.nonce,
      streamed.update(small.subarray(0, 7)),
      streamed.update(small.subarray(7)),
      streamed.finish(),
    ]);
    expect(pyDecrypt(alg, KEY, file).equals(small)).toBe(true);
  });

  it('refuses a changed byte anywhere, a cut file, a short file and another key', () => {
    const file = encryptFile(alg, KEY, plain);
    for (const at of [0, 11, 12, 500_000, file.length - 17, file.length - 1]) {
      const bad = Buffer.from(file);
      bad[at]! ^= 0x01;
      expect(() => decryptFile(alg, KEY, bad), `byte ${at}`).toThrow(/authentication tag does not match/);
    }
    expect(() => decryptFile(alg, KEY, file.subarray(0, file.length - 1))).toThrow(FormatError);
    expect(() => decryptFile(alg, OTHER, file)).toThrow(/authentication/);
    try {
      decryptFile(alg, KEY, file.subarray(0, 20));
      expect.unreachable();
    } catch (e) {
      expect((e as FormatError).damage).toBe('truncated');
    }
  });

  it('streams: any chunking gives the plaintext; the last bytes come only after the tag is checked', async () => {
    const file = encryptFile(alg, KEY, plain);
    for (const sizes of [[1], [5, 17, 3], [65536], [file.length]]) {
      const src = sizes[0] === 1 ? chunked(file.subarray(0, 4096), [1]) : chunked(file, sizes);
      const expected = sizes[0] === 1 ? undefined : plain;
      if (expected)
        expect((await collect(decryptStream(alg, KEY, src, { holdBackBytes: 4096 }))).equals(plain)).toBe(true);
      else await expect(collect(decryptStream(alg, KEY, src))).rejects.toThrow(/authentication/);
    }
    // A changed byte: what was handed out before the failure falls short of the whole file by the hold-back.
    const bad = Buffer.from(file);
    bad[100]! ^= 0x80;
    let received = 0;
    await expect(
      (async () => {
        for await (const b of decryptStream(alg, KEY, chunked(bad, [65536]), { holdBackBytes: 256 * 1024 }))
          received += b.length;
      })(),
    ).rejects.toMatchObject({ damage: 'authentication' });
    expect(received).toBeLessThanOrEqual(plain.length - 256 * 1024);
    await expect(collect(decryptStream(alg, KEY, chunked(file.subarray(0, 27), [5])))).rejects.toMatchObject({
      damage: 'truncated',
    });
  });

  it('reads any part of a file by its keystream, matching the whole read', () => {
    const file = encryptFile(alg, KEY, plain);
    const nonce = file.subarray(0, 12);
    for (const [off, len] of [
      [0, 4],
      [1, 100],
      [63, 2],
      [64, 64],
      [1000, 5000],
      [plain.length - 3, 3],
    ] as const) {
      const part = decryptRange(alg, KEY, nonce, off, file.subarray(12 + off, 12 + off + len));
      expect(part.equals(plain.subarray(off, off + len)), `${off}+${len}`).toBe(true);
    }
  });
});
