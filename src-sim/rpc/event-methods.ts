import { classByName, XAPI_CLASSES, type XapiClass } from '../model/classes.js';
import type { Change, ObjectStore } from '../model/object-store.js';
import type { XapiStruct, XapiValue } from '../model/values.js';
import { XapiError } from '../model/xapi-error.js';
import type { MethodSpec } from './method-registry.js';
import { argNumber, argString, argStringList } from './params.js';

// event.from: changes since a token, coalesced to one event per object, for the requested classes ("vm",
// "*", or "vm/OpaqueRef:…" for one object). Token "" returns every current object as "add". An empty
// list comes back only when the timeout expires.

interface Filter {
  matches(cls: XapiClass, ref: string): boolean;
  classes: XapiClass[];
}

function parseFilter(entries: string[]): Filter {
  const classes = new Set<XapiClass>();
  const objects = new Set<string>();
  for (const entry of entries) {
    if (entry === '*') {
      XAPI_CLASSES.forEach((c) => classes.add(c));
      continue;
    }
    const [name, ref] = entry.split('/', 2) as [string, string | undefined];
    const cls = classByName(name);
    if (!cls) continue; // real hosts ignore classes they do not know
    if (ref) objects.add(`${cls}/${ref}`);
    else classes.add(cls);
  }
  return {
    matches: (cls, ref) => classes.has(cls) || objects.has(`${cls}/${ref}`),
    classes: [...new Set([...classes, ...[...objects].map((o) => classByName(o.split('/')[0]!)!)])],
  };
}

/** Tokens look like a host's (two zero-padded generation counters); clients must treat them as opaque. */
function formatToken(generation: number): string {
  return `${String(generation).padStart(20, '0')},${'0'.padStart(20, '0')}`;
}

function parseToken(token: string): number {
  if (token === '') return -1;
  const m = /^(\d+)(?:,\d+)?$/.exec(token);
  if (!m) throw new XapiError('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
  return Number(m[1]);
}

function toEvent(change: Change): XapiStruct {
  const event: Record<string, XapiValue> = {
    id: change.generation,
    timestamp: (Date.now() / 1000).toFixed(6),
    class: change.cls.toLowerCase(),
    operation: change.operation,
    ref: change.ref,
  };
  if (change.operation !== 'del') event['snapshot'] = change.snapshot;
  return event;
}

function waitForChange(store: ObjectStore, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, Math.max(0, ms));
    const unsubscribe = store.onChange(finish);
    function finish(): void {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
}

export const eventMethods: Record<string, MethodSpec> = {
  // xapi_event.ml: the object must be of exactly that class (else HANDLE_INVALID); its row is touched, and the
  // token is the generation before that touch, so event.from(token) returns at least this object as "mod".
  'event.inject': {
    arity: 2,
    async: false,
    run: ({ state }, [cls, ref]) => {
      const name = argString(cls, 'class');
      const self = argString(ref, 'ref');
      const target = XAPI_CLASSES.find((c) => c === name);
      if (!target || !state.store.has(target, self)) throw new XapiError('HANDLE_INVALID', [name, self]);
      return formatToken(state.store.touchObject(target, self) - 1);
    },
  },
  'event.from': {
    arity: 3,
    async: false,
    run: async ({ state }, [classes, token, timeout]) => {
      const filter = parseFilter(argStringList(classes, 'classes'));
      const since = parseToken(argString(token, 'token'));
      const deadline = Date.now() + argNumber(timeout, 'timeout') * 1000;
      const { store } = state;
      for (;;) {
        const generation = store.currentGeneration;
        const changes =
          since < 0
            ? store
                .changesSince(-1, filter.matches)
                .filter((c) => c.operation !== 'del')
                .map((c) => ({ ...c, operation: 'add' as const }))
            : store.changesSince(since, filter.matches);
        const remaining = deadline - Date.now();
        if (changes.length > 0 || remaining <= 0) {
          const counts: Record<string, number> = {};
          for (const cls of filter.classes) counts[cls.toLowerCase()] = store.count(cls);
          return { events: changes.map(toEvent), valid_ref_counts: counts, token: formatToken(generation) };
        }
        await waitForChange(store, remaining);
      }
    },
  },
};
