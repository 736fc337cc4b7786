import { createHash, type Hash } from 'node:crypto';
import type xxhash from 'xxhash-wasm';
import type { ChecksumAlgorithm } from './xva/xva-entry-name.js';

// The checksum of one XVA chunk, computed while its bytes stream past. The algorithm is named only by the
// entry that follows the data, so until a stream has shown which one its host uses, both are computed.

export type XxhashApi = Awaited<ReturnType<typeof xxhash>>;
type Xxh64Hasher = ReturnType<XxhashApi['create64']>;

export const ALGORITHM_LABEL: Record<ChecksumAlgorithm, string> = { xxhash: 'XXH64', checksum: 'SHA-1' };

const HEX_DIGITS: Record<ChecksumAlgorithm, number> = { xxhash: 16, checksum: 40 };

export class ChunkDigest {
  private readonly xxh64: Xxh64Hasher | undefined;
  private readonly sha1: Hash | undefined;

  /** `expected` undefined: compute both, the algorithm is not known yet. */
  constructor(api: XxhashApi, expected: ChecksumAlgorithm | undefined) {
    this.xxh64 = expected !== 'checksum' ? api.create64(0n) : undefined;
    this.sha1 = expected !== 'xxhash' ? createHash('sha1') : undefined;
  }

  update(data: Buffer): void {
    // xxhash-wasm copies each update into its memory, which grows to the largest update and never shrinks:
    // callers pass at most one chunk (1 MiB) at a time.
    this.xxh64?.update(data);
    this.sha1?.update(data);
  }

  /** Lowercase hex, or undefined when this algorithm was not computed. Call once. */
  digest(algorithm: ChecksumAlgorithm): string | undefined {
    if (algorithm === 'xxhash') return this.xxh64?.digest().toString(16).padStart(16, '0');
    return this.sha1?.digest('hex');
  }
}

/** A checksum entry's text as lowercase hex, or undefined when it is not a checksum of that algorithm. */
export function parseChecksumText(algorithm: ChecksumAlgorithm, body: Buffer): string | undefined {
  // xapi writes the bare digits; a trailing newline from a hand-made archive is harmless.
  const text = body.toString('latin1').trim();
  const digits = HEX_DIGITS[algorithm];
  return text.length === digits && /^[0-9a-fA-F]+$/.test(text) ? text.toLowerCase() : undefined;
}

/** As the host writes it: XXH64 in uppercase, SHA-1 in lowercase. */
export function displayChecksum(algorithm: ChecksumAlgorithm, hex: string): string {
  return algorithm === 'xxhash' ? hex.toUpperCase() : hex;
}
