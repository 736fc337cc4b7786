import { createHash } from 'node:crypto';
import xxhashWasm from 'xxhash-wasm';

// The checksum files that follow every XVA chunk: `.xxhash` (XXH64, seed 0, 16 uppercase hex digits) on current
// hosts, `.checksum` (SHA-1, lowercase hex) on old ones.

export type ChecksumKind = 'xxhash' | 'checksum';

let hasher: ReturnType<typeof xxhashWasm> | undefined;

export async function chunkChecksum(kind: ChecksumKind, data: Buffer): Promise<string> {
  if (kind === 'checksum') return createHash('sha1').update(data).digest('hex');
  hasher ??= xxhashWasm();
  const { h64Raw } = await hasher;
  return h64Raw(data, 0n).toString(16).toUpperCase().padStart(16, '0');
}
