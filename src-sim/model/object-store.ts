import { XAPI_CLASSES, type XapiClass } from './classes.js';
import { newRecord } from './record-defaults.js';
import { NULL_REF, newRef } from './refs.js';
import { relationsFrom, relationsOwnedBy } from './relations.js';
import type { XapiStruct, XapiValue } from './values.js';

interface Row {
  fields: XapiStruct;
  /** Generation of the add; event.from reports "add" when it is newer than the caller's token. */
  readonly created: number;
  modified: number;
}

export interface Change {
  readonly cls: XapiClass;
  readonly ref: string;
  readonly operation: 'add' | 'mod' | 'del';
  readonly generation: number;
  /** The record as it is now (add/mod) or as it was when deleted (del). */
  readonly snapshot: XapiStruct;
}

/** Fields computed from other objects on every read (SR.physical_utilisation from its VDIs, for instance). */
export type ComputedFields = (ref: string, fields: XapiStruct, store: ObjectStore) => XapiStruct;

// Deleted objects are remembered this long (in generations) so that event.from can report "del" to a caller
// whose token predates the deletion; callers further behind simply miss old deletions, as on a real host.
const TOMBSTONE_LIMIT = 50_000;

/**
 * The pool database: every object of every class, a generation counter bumped by each change, and wake-ups
 * for event.from callers waiting on a change. All mutations go through here so that no change escapes the
 * event feed.
 */
export class ObjectStore {
  private generation = 0;
  private readonly tables = new Map<XapiClass, Map<string, Row>>(XAPI_CLASSES.map((c) => [c, new Map()]));
  private readonly tombstones: Change[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly computed = new Map<XapiClass, ComputedFields>();

  get currentGeneration(): number {
    return this.generation;
  }

  defineComputed(cls: XapiClass, compute: ComputedFields): void {
    this.computed.set(cls, compute);
  }

  /** Creates an object from the class defaults overlaid with `fields`; returns its ref. */
  add(cls: XapiClass, fields: XapiStruct, ref: string = newRef()): string {
    const gen = this.bump();
    this.table(cls).set(ref, { fields: newRecord(cls, fields), created: gen, modified: gen });
    this.touchRelated(cls, this.table(cls).get(ref)!.fields, gen);
    this.notify();
    return ref;
  }

  has(cls: XapiClass, ref: string): boolean {
    return this.table(cls).has(ref);
  }

  /** The stored fields only (no derived sets); undefined when the object does not exist. */
  fields(cls: XapiClass, ref: string): XapiStruct | undefined {
    return this.table(cls).get(ref)?.fields;
  }

  /** The full record as XAPI returns it: stored, derived (VM.VBDs…) and computed fields. */
  record(cls: XapiClass, ref: string): XapiStruct | undefined {
    const row = this.table(cls).get(ref);
    return row ? this.view(cls, ref, row.fields) : undefined;
  }

  refs(cls: XapiClass): string[] {
    return [...this.table(cls).keys()];
  }

  /** Refs of `cls` whose stored fields satisfy `predicate`. */
  find(cls: XapiClass, predicate: (fields: XapiStruct) => boolean): string[] {
    const out: string[] = [];
    for (const [ref, row] of this.table(cls)) if (predicate(row.fields)) out.push(ref);
    return out;
  }

  update(cls: XapiClass, ref: string, patch: XapiStruct): void {
    const row = this.table(cls).get(ref);
    if (!row) throw new Error(`update of a missing ${cls} ${ref}`);
    const before = row.fields;
    row.fields = { ...before, ...patch };
    const gen = this.bump();
    row.modified = gen;
    // A pointer that moved changes the derived sets on both its old and its new owner.
    for (const rel of relationsFrom(cls)) {
      if (!(rel.refField in patch) || before[rel.refField] === patch[rel.refField]) continue;
      this.touch(rel.owner, before[rel.refField], gen);
      this.touch(rel.owner, patch[rel.refField], gen);
    }
    this.notify();
  }

  /** Marks an object modified without changing it (event.inject); returns the generation it consumed. */
  touchObject(cls: XapiClass, ref: string): number {
    const row = this.table(cls).get(ref);
    if (!row) throw new Error(`touch of a missing ${cls} ${ref}`);
    const gen = this.bump();
    row.modified = gen;
    this.notify();
    return gen;
  }

  remove(cls: XapiClass, ref: string): void {
    const row = this.table(cls).get(ref);
    if (!row) return;
    const snapshot = this.view(cls, ref, row.fields);
    this.table(cls).delete(ref);
    const gen = this.bump();
    this.tombstones.push({ cls, ref, operation: 'del', generation: gen, snapshot });
    if (this.tombstones.length > TOMBSTONE_LIMIT) this.tombstones.splice(0, this.tombstones.length - TOMBSTONE_LIMIT);
    this.touchRelated(cls, row.fields, gen);
    this.notify();
  }

  /** Every object change newer than `since`, one entry per object (XAPI coalesces the same way). */
  changesSince(since: number, wanted: (cls: XapiClass, ref: string) => boolean): Change[] {
    const out: Change[] = [];
    for (const [cls, table] of this.tables) {
      for (const [ref, row] of table) {
        if (row.modified <= since || !wanted(cls, ref)) continue;
        const operation = row.created > since ? 'add' : 'mod';
        out.push({ cls, ref, operation, generation: row.modified, snapshot: this.view(cls, ref, row.fields) });
      }
    }
    for (const t of this.tombstones) if (t.generation > since && wanted(t.cls, t.ref)) out.push(t);
    return out.sort((a, b) => a.generation - b.generation);
  }

  count(cls: XapiClass): number {
    return this.table(cls).size;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private view(cls: XapiClass, ref: string, fields: XapiStruct): XapiStruct {
    const derived: Record<string, XapiValue> = {};
    for (const rel of relationsOwnedBy(cls)) {
      derived[rel.setField] = this.find(rel.member, (f) => f[rel.refField] === ref);
    }
    const withDerived = { ...fields, ...derived };
    const compute = this.computed.get(cls);
    return compute ? { ...withDerived, ...compute(ref, withDerived, this) } : withDerived;
  }

  private touchRelated(cls: XapiClass, fields: XapiStruct, gen: number): void {
    for (const rel of relationsFrom(cls)) this.touch(rel.owner, fields[rel.refField], gen);
  }

  private touch(cls: XapiClass, ref: XapiValue | undefined, gen: number): void {
    if (typeof ref !== 'string' || ref === NULL_REF) return;
    const row = this.table(cls).get(ref);
    if (row) row.modified = gen;
  }

  private bump(): number {
    return ++this.generation;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private table(cls: XapiClass): Map<string, Row> {
    return this.tables.get(cls)!;
  }
}
