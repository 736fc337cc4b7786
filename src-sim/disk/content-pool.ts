// Deterministic disk content without storing it: every generated cluster is a window into one shared
// pseudo-random pool, picked by hashing the cluster's identity, with that identity stamped into its first
// bytes so no two clusters (and no cluster and a zero block) ever look alike.

export const STAMP_LENGTH = 32;
const POOL_SIZE = 1024 * 1024;
const STAMP_MAGIC = 0x53494d43; // "SIMC"

/** 32-bit avalanche mix (murmur3 finaliser) over a few words: cheap and well spread. */
export function mix32(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    h = Math.imul(h ^ (w >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Seeded xorshift32 stream, for choices that must repeat run after run. */
export class Xorshift32 {
  private state: number;
  constructor(seed: number) {
    this.state = mix32(seed) || 0x6d2b79f5;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }
}

let pool: Buffer | undefined;

/** The pool is a little longer than POOL_SIZE so that any window start below POOL_SIZE fits without wrapping. */
function contentPool(windowSize: number): Buffer {
  if (pool && pool.length >= POOL_SIZE + windowSize) return pool;
  const words = new Uint32Array((POOL_SIZE + windowSize) / 4);
  const rng = new Xorshift32(0x51c3);
  for (let i = 0; i < words.length; i++) words[i] = rng.next();
  pool = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  return pool;
}

export interface ClusterIdentity {
  seed: number;
  cluster: number;
  generation: number;
}

/**
 * Writes bytes [from, from+length) of the generated cluster `id` (of size clusterSize) into target at
 * targetOffset. The same identity always yields the same bytes.
 */
export function fillGeneratedCluster(
  target: Buffer,
  targetOffset: number,
  id: ClusterIdentity,
  clusterSize: number,
  from: number,
  length: number,
): void {
  const source = contentPool(clusterSize);
  const start = (mix32(id.seed, id.cluster, id.generation) % (POOL_SIZE / 8)) * 8;
  source.copy(target, targetOffset, start + from, start + from + length);
  if (from < STAMP_LENGTH) {
    const stamp = Buffer.allocUnsafe(STAMP_LENGTH);
    source.copy(stamp, 0, start, start + STAMP_LENGTH);
    stamp.writeUInt32BE(STAMP_MAGIC, 0);
    stamp.writeUInt32BE(id.seed >>> 0, 4);
    stamp.writeUInt32BE(Math.floor(id.cluster / 0x1_0000_0000), 8);
    stamp.writeUInt32BE(id.cluster >>> 0, 12);
    stamp.writeUInt32BE(id.generation >>> 0, 16);
    const end = Math.min(STAMP_LENGTH, from + length);
    stamp.copy(target, targetOffset, from, end);
  }
}
