/** Deterministic MAC addresses (locally administered, unicast) so a preset looks the same on every run. */
export function macGenerator(seed: number): () => string {
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const byte = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state & 0xff;
  };
  return () => {
    const bytes = [(byte() & 0xfc) | 0x02, byte(), byte(), byte(), byte(), byte()];
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
  };
}
