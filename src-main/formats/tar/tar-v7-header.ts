// One 512-byte tar header block, decoded. xapi writes old-style V7 headers (no "ustar" magic, mode 0400,
// octal numbers ending in NUL or space); files that went through other tools may carry POSIX ustar or GNU
// headers instead, so both are read too. Only what a reader of XVA needs is decoded: name, size, type.

export const TAR_BLOCK = 512;

const NAME_OFFSET = 0;
const NAME_LENGTH = 100;
const SIZE_OFFSET = 124;
const SIZE_LENGTH = 12;
const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;
const TYPEFLAG_OFFSET = 156;
const MAGIC_OFFSET = 257;
const PREFIX_OFFSET = 345;
const PREFIX_LENGTH = 155;

const NUL = 0x00;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_7 = 0x37;

/** What an entry is, as far as a reader of an archive cares. */
export type TarEntryType =
  | 'file'
  | 'directory'
  /** pax extended header: key=value records that override the next entry's header. */
  | 'pax-header'
  /** pax global header: applies to the rest of the archive; nothing in it matters to an XVA. */
  | 'pax-global'
  /** GNU ././@LongLink: the next entry's name, too long for the header. */
  | 'gnu-long-name'
  /** GNU long link target: irrelevant to regular files. */
  | 'gnu-long-link'
  | 'other';

export interface TarHeader {
  name: string;
  size: number;
  type: TarEntryType;
  /** The raw type flag, for messages about entries of an unexpected type. */
  typeflag: string;
}

/** A header block that cannot be trusted: wrong checksum or a number that is not a number. */
export class TarHeaderError extends Error {
  constructor(
    message: string,
    /** Byte within the 512-byte block where the damage was found. */
    readonly fieldOffset: number,
    /** The name the block claims, printable characters only, so a report can still point at it. */
    readonly claimedName: string,
  ) {
    super(message);
    this.name = 'TarHeaderError';
  }
}

/** Zero bytes after an entry of `size` bytes, up to the next block boundary. */
export function tarPadding(size: number): number {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? 0 : TAR_BLOCK - rest;
}

/** The end of an archive is marked by all-zero blocks. */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < TAR_BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

export function parseTarHeader(block: Buffer): TarHeader {
  if (block.length !== TAR_BLOCK) throw new RangeError(`a tar header is ${TAR_BLOCK} bytes, not ${block.length}`);
  const claimedName = printable(cString(block, NAME_OFFSET, NAME_LENGTH));

  // Checked first: when the sum is wrong, nothing else in the block can be believed.
  const stored = parseOctal(block, CHECKSUM_OFFSET, CHECKSUM_LENGTH, 'checksum', claimedName);
  const { unsigned, signed } = headerSums(block);
  if (stored !== unsigned && stored !== signed) {
    throw new TarHeaderError(
      `its checksum field says ${stored} but its bytes add up to ${unsigned}`,
      CHECKSUM_OFFSET,
      claimedName,
    );
  }

  let name = cString(block, NAME_OFFSET, NAME_LENGTH);
  // Only POSIX ustar has a name prefix; GNU ("ustar  \0") keeps other fields in those bytes.
  if (block.toString('latin1', MAGIC_OFFSET, MAGIC_OFFSET + 6) === 'ustar\0') {
    const prefix = cString(block, PREFIX_OFFSET, PREFIX_LENGTH);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const size = parseSize(block, claimedName);
  const flag = block[TYPEFLAG_OFFSET]!;
  const typeflag = flag === NUL ? '' : String.fromCharCode(flag);
  return { name, size, type: entryType(typeflag, name), typeflag };
}

function entryType(typeflag: string, name: string): TarEntryType {
  switch (typeflag) {
    case '':
    case '0':
    case '7': // contiguous file: a regular file everywhere that matters
      // V7 had no directory type: a trailing slash was the only sign.
      return typeflag === '' && name.endsWith('/') ? 'directory' : 'file';
    case '5':
      return 'directory';
    case 'x':
      return 'pax-header';
    case 'g':
      return 'pax-global';
    case 'L':
      return 'gnu-long-name';
    case 'K':
      return 'gnu-long-link';
    default:
      return 'other';
  }
}

/** Sum of all bytes with the checksum field counted as spaces; old tars summed signed chars. */
function headerSums(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let high = 0; // bytes >= 0x80, which count 256 less when signed
  for (let i = 0; i < TAR_BLOCK; i++) {
    if (i === CHECKSUM_OFFSET) {
      i += CHECKSUM_LENGTH - 1;
      unsigned += CHECKSUM_LENGTH * SPACE;
      continue;
    }
    const b = block[i]!;
    unsigned += b;
    if (b >= 0x80) high++;
  }
  return { unsigned, signed: unsigned - 256 * high };
}

function parseSize(block: Buffer, claimedName: string): number {
  const first = block[SIZE_OFFSET]!;
  if (first & 0x80) {
    // GNU base-256, for sizes beyond 8 GiB. 0xff would be a negative number: never a valid size.
    if (first !== 0x80)
      throw new TarHeaderError('its size field holds a negative base-256 number', SIZE_OFFSET, claimedName);
    let value = 0;
    for (let i = SIZE_OFFSET + 1; i < SIZE_OFFSET + SIZE_LENGTH; i++) value = value * 256 + block[i]!;
    if (!Number.isSafeInteger(value))
      throw new TarHeaderError('its size field is too large to be real', SIZE_OFFSET, claimedName);
    return value;
  }
  return parseOctal(block, SIZE_OFFSET, SIZE_LENGTH, 'size', claimedName, true);
}

/**
 * Octal digits, optionally after leading spaces, ending in NUL or space (or at the end of the field). An empty
 * field means 0 where `emptyIsZero` (some old writers leave unused numbers blank), and is damage elsewhere.
 */
function parseOctal(
  block: Buffer,
  offset: number,
  length: number,
  field: string,
  claimedName: string,
  emptyIsZero = false,
): number {
  const end = offset + length;
  let i = offset;
  while (i < end && block[i] === SPACE) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const b = block[i]!;
    if (b >= DIGIT_0 && b <= DIGIT_7) {
      value = value * 8 + (b - DIGIT_0);
      digits++;
    } else if (b === NUL || b === SPACE) {
      break;
    } else {
      throw new TarHeaderError(
        `its ${field} field is not an octal number ("${printable(block.toString('latin1', offset, end))}")`,
        i,
        claimedName,
      );
    }
  }
  if (digits === 0 && !emptyIsZero) throw new TarHeaderError(`its ${field} field is empty`, offset, claimedName);
  return value;
}

function cString(block: Buffer, offset: number, length: number): string {
  const nul = block.indexOf(NUL, offset);
  const end = nul < 0 || nul > offset + length ? offset + length : nul;
  return block.toString('utf8', offset, end);
}

/** For messages: a damaged name may hold control bytes that would garble a log line. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?');
}
