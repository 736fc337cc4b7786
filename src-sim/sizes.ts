const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "16G", "512M", "1048576", "1.5G" (binary units, an optional trailing "iB"/"B") → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: "${text}" (use e.g. 16G, 512M or a byte count)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}
