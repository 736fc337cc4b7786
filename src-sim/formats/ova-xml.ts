import { decodeValue, encodeValue, XmlRpcDecodeError, type XmlRpcValue } from './xmlrpc-value.js';

// ova.xml, the first file of an XVA: one XML-RPC value (no prolog) holding the export's version and the
// records of every object exported, each named by a local "Ref:<n>" id.

export interface OvaObject {
  class: string;
  id: string;
  snapshot: Record<string, unknown>;
}

export interface OvaXml {
  version: Record<string, unknown>;
  objects: OvaObject[];
}

export function buildOvaXml(input: { version: Record<string, XmlRpcValue>; objects: OvaObject[] }): string {
  return encodeValue({ version: input.version, objects: input.objects });
}

export function parseOvaXml(xml: string): OvaXml {
  const root = decodeValue(xml);
  if (!isRecord(root)) throw new XmlRpcDecodeError('ova.xml is not a struct');
  const { version, objects } = root;
  if (!isRecord(version)) throw new XmlRpcDecodeError('ova.xml has no version struct');
  if (!Array.isArray(objects)) throw new XmlRpcDecodeError('ova.xml has no objects array');
  return {
    version,
    objects: objects.map((o, i) => {
      if (!isRecord(o) || typeof o.class !== 'string' || typeof o.id !== 'string' || !isRecord(o.snapshot)) {
        throw new XmlRpcDecodeError(`ova.xml object ${i} lacks class, id or snapshot`);
      }
      return { class: o.class, id: o.id, snapshot: o.snapshot };
    }),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}
