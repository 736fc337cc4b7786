export interface TarEntry {
  name: string;
  data: Buffer;
  /** Offset of the entry's header in the archive. */
  offset: number;
}

/** The files of an uncompressed tar (ustar headers; enough for XVA checks). */
export function tarEntries(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from: number, to: number): string =>
      header.subarray(from, to).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    entries.push({ name: field(0, 100), data: tar.subarray(at + 512, at + 512 + size), offset: at });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}
