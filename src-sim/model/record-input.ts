import type { XapiClass } from './classes.js';
import { newRecord } from './record-defaults.js';
import { Float, type XapiValue } from './values.js';
import { XapiError } from './xapi-error.js';

// Records that come from outside (Class.create arguments, ova.xml of an import) arrive with wire types:
// int64 as strings from XML-RPC, numbers from JSON. Each value takes the type of the field it fills.

/** `value` converted to the type of `sample` (the field's default), or FIELD_TYPE_ERROR [field]. */
export function coerceLike(sample: XapiValue | undefined, value: unknown, field: string): XapiValue {
  if (sample instanceof Float) {
    // A float arrives as a JSON number or an XML-RPC double (decoded to a number or a Float).
    const n = value instanceof Float ? value.value : typeof value === 'string' ? Number(value) : value;
    if (typeof n === 'number' && Number.isFinite(n)) return new Float(n);
  } else if (typeof sample === 'number') {
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n === 'number' && Number.isFinite(n)) return n;
  } else if (typeof sample === 'boolean') {
    if (typeof value === 'boolean') return value;
    // Older XenServer metadata stored booleans as integers.
    if (value === 0 || value === 1 || value === '0' || value === '1') return Number(value) === 1;
  } else if (typeof sample === 'string' && typeof value === 'string') {
    return value;
  } else if (sample instanceof Date) {
    if (value instanceof Date) return value;
    if (typeof value === 'string') return new Date(value.replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T'));
  } else if (Array.isArray(sample) && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value as string[];
  } else if (sample !== null && typeof sample === 'object' && !Array.isArray(sample) && !(sample instanceof Date)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(value)) out[k] = String(v);
      return out;
    }
  } else if (sample === undefined) {
    return value as XapiValue;
  }
  throw new XapiError('FIELD_TYPE_ERROR', [field]);
}

const IGNORED = new Set(['uuid', 'allowed_operations', 'current_operations']);

/** The fields of `input` that `cls` has, converted to their types; identity and operation fields dropped. */
export function recordFromInput(
  cls: XapiClass,
  input: Record<string, unknown>,
  lenient = false,
): Record<string, XapiValue> {
  const defaults = newRecord(cls);
  const out: Record<string, XapiValue> = {};
  for (const [key, value] of Object.entries(input)) {
    if (IGNORED.has(key) || !(key in defaults)) continue;
    // Metadata from other versions may hold values of another shape; an import keeps the default then.
    try {
      out[key] = coerceLike(defaults[key], value, key);
    } catch (error) {
      if (!lenient) throw error;
    }
  }
  return out;
}
