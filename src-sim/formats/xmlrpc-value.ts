import { childElements, escapeXmlText, parseXml, textContent, type XmlElement } from './xml-tree.js';

// The XML-RPC <value> codec, written the way XAPI writes it: strings and int64 untyped, 32-bit ints as
// <int>, floats as <double>, booleans as 1|0, datetimes in compact ISO 8601. Reading is tolerant of what
// other XML-RPC peers send (<string>, <i4>, <i8>, <nil/>, whitespace between elements).

/** An int64 as XAPI sends it: an untyped value, which clients receive as a string. */
export class Int64String {
  constructor(public readonly value: string) {}
}

/** Forces <double> for numbers that happen to be integral (task progress 1, for instance). */
export class XmlRpcDouble {
  constructor(public readonly value: number) {}
}

export type XmlRpcValue = string | number | boolean | Date | XmlRpcValue[] | { [k: string]: XmlRpcValue } | Int64String;

export class XmlRpcDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlRpcDecodeError';
  }
}

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

export function encodeValue(v: unknown): string {
  return `<value>${encodeInner(v)}</value>`;
}

function encodeInner(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return escapeXmlText(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return `<boolean>${v ? 1 : 0}</boolean>`;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return `<int>${v}</int>`;
    return encodeDouble(v);
  }
  if (v instanceof Int64String) return escapeXmlText(v.value);
  if (v instanceof XmlRpcDouble) return encodeDouble(v.value);
  if (v instanceof Date) return `<dateTime.iso8601>${formatDateTime(v)}</dateTime.iso8601>`;
  if (v instanceof Uint8Array)
    return `<base64>${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}</base64>`;
  if (Array.isArray(v)) return `<array><data>${v.map(encodeValue).join('')}</data></array>`;
  const entries = v instanceof Map ? [...(v as Map<unknown, unknown>).entries()] : Object.entries(v as object);
  const members = entries
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `<member><name>${escapeXmlText(String(name))}</name>${encodeValue(value)}</member>`);
  return `<struct>${members.join('')}</struct>`;
}

function encodeDouble(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`XML-RPC cannot carry the double ${n}`);
  return `<double>${String(n)}</double>`;
}

/** 20240131T12:34:56Z, always UTC, as XAPI writes it. */
export function formatDateTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return (
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`
  );
}

/** Accepts 20240131T12:34:56Z, 2024-01-31T12:34:56Z and either without the Z (read as UTC). */
export function parseDateTime(text: string): Date {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) throw new XmlRpcDecodeError(`bad dateTime.iso8601 "${text}"`);
  const [, y, mo, d, h, mi, s, zone] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${zone && zone !== 'Z' ? zone : 'Z'}`;
  return new Date(iso);
}

/** Decodes a `<value>…</value>` document. */
export function decodeValue(xml: string): unknown {
  const root = parseXml(xml);
  if (root.name !== 'value') throw new XmlRpcDecodeError(`expected <value>, got <${root.name}>`);
  return decodeValueElement(root);
}

export function decodeValueElement(value: XmlElement): unknown {
  const typed = childElements(value);
  if (typed.length === 0) return textContent(value);
  if (typed.length > 1) throw new XmlRpcDecodeError(`<value> holds ${typed.length} elements`);
  const inner = typed[0]!;
  const text = (): string => textContent(inner);
  switch (inner.name) {
    case 'string':
      return text();
    case 'int':
    case 'i4':
      return parseInteger(text(), inner.name);
    case 'i8': {
      const n = parseInteger(text(), 'i8');
      return Number.isSafeInteger(n) ? n : text().trim();
    }
    case 'double': {
      const n = Number(text().trim());
      if (Number.isNaN(n)) throw new XmlRpcDecodeError(`bad double "${text()}"`);
      return n;
    }
    case 'boolean': {
      const t = text().trim();
      if (t === '1' || t === 'true') return true;
      if (t === '0' || t === 'false') return false;
      throw new XmlRpcDecodeError(`bad boolean "${t}"`);
    }
    case 'dateTime.iso8601':
      return parseDateTime(text());
    case 'base64':
      return Buffer.from(text().replace(/\s+/g, ''), 'base64');
    case 'nil':
      return null;
    case 'array': {
      const data = childElements(inner).find((e) => e.name === 'data');
      if (!data) return [];
      return childElements(data).map((v) => {
        if (v.name !== 'value') throw new XmlRpcDecodeError(`<data> holds <${v.name}>`);
        return decodeValueElement(v);
      });
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const member of childElements(inner)) {
        if (member.name !== 'member') throw new XmlRpcDecodeError(`<struct> holds <${member.name}>`);
        const parts = childElements(member);
        const name = parts.find((e) => e.name === 'name');
        const v = parts.find((e) => e.name === 'value');
        if (!name || !v) throw new XmlRpcDecodeError('<member> without <name> or <value>');
        // defineProperty, so a member called __proto__ stays data instead of replacing the prototype.
        Object.defineProperty(out, textContent(name), {
          value: decodeValueElement(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    default:
      throw new XmlRpcDecodeError(`unknown XML-RPC type <${inner.name}>`);
  }
}

function parseInteger(text: string, type: string): number {
  const t = text.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new XmlRpcDecodeError(`bad <${type}> "${text}"`);
  return Number(t);
}
