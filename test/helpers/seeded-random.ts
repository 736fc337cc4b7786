/**
 * A small seeded generator (mulberry32) for tests that pick random points: the same seed picks the same
 * points, so a failure can be replayed. `seedFrom` reads the seed from the environment, else the default.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFrom(envName: string, fallback: number): number {
  const raw = process.env[envName];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) ? n : fallback;
}

/** A seed derived from a base seed and a name: each kind of damage gets its own sequence, whatever runs first. */
export function seedFor(seed: number, name: string): number {
  let h = seed >>> 0;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}
