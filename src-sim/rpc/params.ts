import { XapiError } from '../model/xapi-error.js';
import type { StringMap } from '../model/values.js';

// Arguments arrive decoded from either wire: XML-RPC delivers int64 as strings and doubles as numbers,
// JSON-RPC delivers numbers. These accessors accept both and fail like a host would on a wrong type.

function typeError(name: string): XapiError {
  return new XapiError('FIELD_TYPE_ERROR', [name]);
}

export function argString(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  throw typeError(name);
}

export function argNumber(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw typeError(name);
}

export function argBoolean(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  throw typeError(name);
}

export function argStringList(value: unknown, name: string): string[] {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw typeError(name);
}

export function argStringMap(value: unknown, name: string): StringMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name);
  const out: StringMap = {};
  for (const [k, v] of Object.entries(value)) out[k] = String(v);
  return out;
}

export function argStruct(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name);
  return value as Record<string, unknown>;
}
