// Tar headers as XAPI writes them: ocaml-tar's default "V7" level, i.e. no ustar magic, no user or group
// names, type flag NUL, mode 0400, uid/gid 0, every number as zero-padded octal ending in NUL (the checksum
// too: seven digits and a NUL). Reading is tolerant: V7, ustar, GNU, GNU long names and pax path/size.

export const TAR_BLOCK = 512;

export class TarFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset} of the tar stream)`);
    this.name = 'TarFormatError';
  }
}

export function encodeTarHeader(name: string, size: number, mtimeSeconds = 0): Buffer {
  const buf = Buffer.alloc(TAR_BLOCK);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new RangeError(`tar name longer than 100 bytes: ${name}`);
  nameBytes.copy(buf, 0);
  writeOctal(buf, 100, 8, 0o400);
  writeOctal(buf, 108, 8, 0);
  writeOctal(buf, 116, 8, 0);
  writeOctal(buf, 124, 12, size);
  writeOctal(buf, 136, 12, mtimeSeconds);
  writeOctal(buf, 148, 8, headerChecksum(buf));
  return buf;
}

/** Zero bytes that round `size` up to a whole number of blocks. */
export function tarPadding(size: number): number {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? 0 : TAR_BLOCK - rest;
}

function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  buf.write(`${digits}\0`, offset, width, 'latin1');
}

/** Sum of the header bytes with the checksum field counted as eight spaces. */
function headerChecksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : buf[i]!;
  return sum;
}

export interface TarHeader {
  name: string;
  size: number;
  type: string;
  mtime: number;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

export function decodeTarHeader(block: Buffer, at: number): TarHeader {
  const stored = parseNumber(block, 148, 8, at);
  const unsigned = headerChecksum(block);
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) signed += i >= 148 && i < 156 ? 0x20 : (block[i]! << 24) >> 24;
  if (stored !== unsigned && stored !== signed) throw new TarFormatError('tar header checksum mismatch', at);
  let name = cString(block, 0, 100);
  const magic = block.toString('latin1', 257, 263);
  if (magic === 'ustar\0') {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  return { name, size: parseNumber(block, 124, 12, at), type: flag, mtime: parseNumber(block, 136, 12, at) };
}

function cString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.toString('utf8', 0, nul < 0 ? length : nul);
}

function parseNumber(buf: Buffer, offset: number, length: number, at: number): number {
  if (buf[offset]! & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let v = 0;
    for (let i = offset + 1; i < offset + length; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const text = buf
    .toString('latin1', offset, offset + length)
    .replace(/[\0 ]+$/g, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad octal field "${text}"`, at + offset);
  return parseInt(text, 8);
}
