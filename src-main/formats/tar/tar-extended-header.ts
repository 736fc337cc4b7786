// The bodies of the two ways tar writers carry what does not fit a header block: pax extended headers
// ("<length> <key>=<value>\n" records) and GNU long names (the name, NUL-terminated). xapi writes neither, but
// an XVA re-packed by another tool may; only the name and size matter to an XVA reader.

export interface HeaderOverride {
  name?: string;
  size?: number;
}

export class ExtendedHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtendedHeaderError';
  }
}

export function parsePaxHeader(body: Buffer): HeaderOverride {
  const out: HeaderOverride = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const lengthText = space < 0 ? '' : body.toString('latin1', at, space);
    const length = /^[0-9]+$/.test(lengthText) ? Number(lengthText) : NaN;
    if (!Number.isSafeInteger(length) || length <= lengthText.length + 1 || at + length > body.length) {
      throw new ExtendedHeaderError(`pax record at byte ${at} of the extended header has no valid length`);
    }
    if (body[at + length - 1] !== 0x0a)
      throw new ExtendedHeaderError(`pax record at byte ${at} of the extended header does not end in a newline`);
    const record = body.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw new ExtendedHeaderError(`pax record at byte ${at} of the extended header has no key`);
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.name = value;
    if (key === 'size') {
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)))
        throw new ExtendedHeaderError(`pax size "${value}" is not a number`);
      out.size = Number(value);
    }
    at += length;
  }
  return out;
}

export function parseGnuLongName(body: Buffer): HeaderOverride {
  const nul = body.indexOf(0);
  return { name: body.toString('utf8', 0, nul < 0 ? body.length : nul) };
}
