// ova.xml, the first file of an XVA: one XML-RPC value (no prolog) holding {version, objects: [{class, id,
// snapshot}]}, each object a full record whose references to other exported objects are "Ref:<n>" ids. Read
// for restores and exports of full points (which disk is which), written for XVAs Sluice synthesises.

export type XmlRpcValue = string | number | boolean | XmlRpcValue[] | { [key: string]: XmlRpcValue };

export interface OvaObject {
  class: string;
  id: string;
  snapshot: Record<string, XmlRpcValue>;
}

export class OvaXmlError extends Error {
  constructor(message: string) {
    super(`ova.xml: ${message}`);
    this.name = 'OvaXmlError';
  }
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function unescape(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITIES[e]!,
  );
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

class Cursor {
  at = 0;
  constructor(private readonly text: string) {}
  skipSpace(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++;
  }
  peekTag(): string | undefined {
    this.skipSpace();
    const m = /^<(\/?[A-Za-z0-9_.]+)\s*(\/?)>/.exec(this.text.slice(this.at, this.at + 64));
    return m ? m[1]! + m[2]! : undefined;
  }
  expect(tag: string): void {
    this.skipSpace();
    const open = `<${tag}>`;
    if (this.text.startsWith(open, this.at)) {
      this.at += open.length;
      return;
    }
    throw new OvaXmlError(`expected ${open} at character ${this.at}`);
  }
  textUntil(close: string): string {
    const end = this.text.indexOf(close, this.at);
    if (end < 0) throw new OvaXmlError(`missing ${close}`);
    const raw = this.text.slice(this.at, end);
    this.at = end + close.length;
    return unescape(raw);
  }
}

function parseValue(c: Cursor): XmlRpcValue {
  c.expect('value');
  const tag = c.peekTag();
  let v: XmlRpcValue;
  if (tag === '/value') {
    v = '';
  } else if (tag === undefined) {
    // A bare value is a string.
    return c.textUntil('</value>');
  } else if (tag === 'string/' || tag === 'nil/') {
    c.at = c.at + `<${tag}>`.length;
    v = '';
  } else if (tag === 'struct') {
    c.expect('struct');
    const out: Record<string, XmlRpcValue> = {};
    while (c.peekTag() === 'member') {
      c.expect('member');
      c.expect('name');
      const name = c.textUntil('</name>');
      out[name] = parseValue(c);
      c.expect('/member');
    }
    c.expect('/struct');
    v = out;
  } else if (tag === 'array') {
    c.expect('array');
    c.expect('data');
    const out: XmlRpcValue[] = [];
    while (c.peekTag() === 'value') out.push(parseValue(c));
    c.expect('/data');
    c.expect('/array');
    v = out;
  } else {
    c.expect(tag);
    const text = c.textUntil(`</${tag}>`);
    if (tag === 'int' || tag === 'i4' || tag === 'i8' || tag === 'double') v = Number(text);
    else if (tag === 'boolean') v = text.trim() === '1';
    else v = text;
  }
  c.expect('/value');
  return v;
}

export function parseOvaXml(xml: string): { version: Record<string, XmlRpcValue>; objects: OvaObject[] } {
  const root = parseValue(new Cursor(xml.replace(/^<\?xml[^>]*>/, '')));
  if (typeof root !== 'object' || Array.isArray(root)) throw new OvaXmlError('not a struct');
  const objects = root['objects'];
  if (!Array.isArray(objects)) throw new OvaXmlError('no objects array');
  return {
    version: (root['version'] ?? {}) as Record<string, XmlRpcValue>,
    objects: objects.map((o, i) => {
      if (
        typeof o !== 'object' ||
        Array.isArray(o) ||
        typeof o['class'] !== 'string' ||
        typeof o['id'] !== 'string' ||
        typeof o['snapshot'] !== 'object'
      ) {
        throw new OvaXmlError(`object ${i} lacks class, id or snapshot`);
      }
      return { class: o['class'], id: o['id'], snapshot: o['snapshot'] as Record<string, XmlRpcValue> };
    }),
  };
}

/** XML-RPC encoding as xapi writes ova.xml: integers untyped (strings), booleans 0/1, maps as structs. */
export function encodeXmlRpcValue(v: unknown): string {
  if (v === null || v === undefined) return '<value></value>';
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === 'number')
    return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${v}</double></value>`;
  if (typeof v === 'string') return `<value>${escape(v)}</value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeXmlRpcValue).join('')}</data></array></value>`;
  if (typeof v === 'object') {
    return `<value><struct>${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `<member><name>${escape(k)}</name>${encodeXmlRpcValue(x)}</member>`)
      .join('')}</struct></value>`;
  }
  return `<value>${escape(String(v))}</value>`;
}

export interface OvaDisk {
  /** The VDI's "Ref:<n>". */
  id: string;
  /** The VDI's uuid as exported (the snapshot's disk for a backup). */
  uuid: string;
  name: string;
  virtualSize: number;
  /** The VBD's userdevice. */
  position: string;
}

/** The disks of an ova.xml (VDIs plugged as Disk VBDs), in position order. */
export function ovaDisks(objects: OvaObject[]): OvaDisk[] {
  const out: OvaDisk[] = [];
  for (const vbd of objects.filter((o) => o.class === 'VBD')) {
    if (vbd.snapshot['type'] !== 'Disk') continue;
    const vdi = objects.find((o) => o.class === 'VDI' && o.id === vbd.snapshot['VDI']);
    if (!vdi) continue;
    out.push({
      id: vdi.id,
      uuid: String(vdi.snapshot['uuid'] ?? ''),
      name: String(vdi.snapshot['name_label'] ?? vdi.id),
      virtualSize: Number(vdi.snapshot['virtual_size'] ?? 0),
      position: String(vbd.snapshot['userdevice'] ?? ''),
    });
  }
  return out.sort((a, b) => Number(a.position) - Number(b.position));
}
