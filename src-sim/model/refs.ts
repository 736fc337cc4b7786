import { randomUUID } from 'node:crypto';

/** XAPI's null reference. */
export const NULL_REF = 'OpaqueRef:NULL';

export function newUuid(): string {
  return randomUUID();
}

export function newRef(): string {
  return `OpaqueRef:${randomUUID()}`;
}

export function isRefLike(value: string): boolean {
  return value.startsWith('OpaqueRef:');
}
