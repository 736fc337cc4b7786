import { TAR_BLOCK, tarPadding } from './tar-v7-header.js';

// Headers for the tar files Sluice writes (synthesised XVAs): ustar, regular files, names up to 100 bytes
// (XVA names are "ova.xml" and "Ref:<n>/<8 digits>[.xxhash]"), mode 0644, owner 0.

export function tarFileHeader(name: string, size: number, mtimeSeconds = 0): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new RangeError(`tar entry name longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(TAR_BLOCK);
  nameBytes.copy(h, 0);
  const octal = (value: number, at: number, width: number) =>
    h.write(value.toString(8).padStart(width - 1, '0') + '\0', at, 'latin1');
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(mtimeSeconds, 136, 12);
  h.write('        ', 148, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** One whole entry: header, body, zero padding to the next block. */
export function tarEntry(name: string, body: Buffer, mtimeSeconds = 0): Buffer[] {
  const pad = tarPadding(body.length);
  return pad
    ? [tarFileHeader(name, body.length, mtimeSeconds), body, Buffer.alloc(pad)]
    : [tarFileHeader(name, body.length, mtimeSeconds), body];
}

/** The end of an archive: two zero blocks (xapi pads no further). */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK);
}
