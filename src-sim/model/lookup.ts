import type { XapiClass } from './classes.js';
import type { ObjectStore } from './object-store.js';
import type { XapiStruct } from './values.js';
import { XapiError } from './xapi-error.js';

/** The stored fields of `ref`, or HANDLE_INVALID [class, ref] as a real host answers for a stale ref. */
export function requireObject(store: ObjectStore, cls: XapiClass, ref: string): XapiStruct {
  const fields = store.fields(cls, ref);
  if (!fields) throw new XapiError('HANDLE_INVALID', [cls, ref]);
  return fields;
}

/** The ref of the object with this uuid, or UUID_INVALID [class, uuid]. */
export function refByUuid(store: ObjectStore, cls: XapiClass, uuid: string): string {
  const [ref] = store.find(cls, (f) => f['uuid'] === uuid);
  if (!ref) throw new XapiError('UUID_INVALID', [cls, uuid]);
  return ref;
}

/** HTTP handlers accept either a ref or a uuid in the same query parameter. */
export function refOrUuid(store: ObjectStore, cls: XapiClass, value: string): string {
  if (value.startsWith('OpaqueRef:')) {
    requireObject(store, cls, value);
    return value;
  }
  return refByUuid(store, cls, value);
}

export function str(fields: XapiStruct, key: string): string {
  const v = fields[key];
  return typeof v === 'string' ? v : '';
}

export function strList(fields: XapiStruct, key: string): string[] {
  const v = fields[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
