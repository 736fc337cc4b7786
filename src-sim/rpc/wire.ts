import { formatDateTime, Int64String, XmlRpcDouble } from '../formats/xmlrpc-value.js';
import { Float, type XapiValue } from '../model/values.js';

// Model values onto the two wires, as a real host writes them: on XML-RPC every integer is an int64 sent
// untyped (clients read a string), floats are <double>, datetimes <dateTime.iso8601>; on JSON-RPC integers
// and floats are numbers and datetimes are the same compact ISO 8601 strings.

export function toXmlRpcWire(value: XapiValue): unknown {
  if (typeof value === 'number') return new Int64String(String(value));
  if (value instanceof Float) return new XmlRpcDouble(value.value);
  if (typeof value === 'string' || typeof value === 'boolean' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(toXmlRpcWire);
  return mapStruct(value as Record<string, XapiValue>, toXmlRpcWire);
}

export function toJsonWire(value: XapiValue): unknown {
  if (value instanceof Float) return value.value;
  if (value instanceof Date) return formatDateTime(value);
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toJsonWire);
  return mapStruct(value as Record<string, XapiValue>, toJsonWire);
}

function mapStruct(struct: Record<string, XapiValue>, convert: (v: XapiValue) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(struct)) {
    Object.defineProperty(out, key, { value: convert(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
