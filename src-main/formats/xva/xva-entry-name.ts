// What an entry of an XVA is, from its name alone. xapi names a disk's chunks "<ref>/<%08d>" where <ref> is
// the VDI's "Ref:<n>" id in ova.xml, and follows each with "<chunk>.xxhash" (current hosts) or
// "<chunk>.checksum" (older ones).

export type ChecksumAlgorithm = 'xxhash' | 'checksum';

export type XvaEntryName =
  | { kind: 'ova-xml' }
  | { kind: 'chunk'; ref: string; seq: number }
  | { kind: 'checksum'; ref: string; seq: number; algorithm: ChecksumAlgorithm }
  | { kind: 'other' };

// %08d grows past eight digits only beyond 95 TiB, so more digits are allowed; fifteen keeps numbers exact.
const CHUNK_NAME = /^(Ref:[^/]+)\/([0-9]{1,15})(?:\.(xxhash|checksum))?$/;

export function classifyXvaEntry(rawName: string): XvaEntryName {
  // Archives re-packed with `tar -C dir .` carry a "./" in front of every name.
  const name = rawName.startsWith('./') ? rawName.slice(2) : rawName;
  if (name === 'ova.xml') return { kind: 'ova-xml' };
  const m = CHUNK_NAME.exec(name);
  if (!m) return { kind: 'other' };
  const ref = m[1]!;
  const seq = Number(m[2]);
  const algorithm = m[3] as ChecksumAlgorithm | undefined;
  return algorithm ? { kind: 'checksum', ref, seq, algorithm } : { kind: 'chunk', ref, seq };
}

/** The name xapi gives chunk `seq` of disk `ref`, for messages about chunks that are missing. */
export function chunkEntryName(ref: string, seq: number): string {
  return `${ref}/${String(seq).padStart(8, '0')}`;
}
