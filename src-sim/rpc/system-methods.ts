import type { MethodRegistry, MethodSpec } from './method-registry.js';

export const LIST_METHODS = 'system.listMethods';

/**
 * system.listMethods, the introspection xen-api (Xen Orchestra's client) uses to learn the classes (every
 * "<Class>.get_all_records"). A real host answers without a session with the synchronous wire name of every
 * message of every class (gen_server.ml), so neither Async.* nor system.* itself is listed.
 */
export function systemMethods(registry: MethodRegistry): Record<string, MethodSpec> {
  return {
    [LIST_METHODS]: {
      arity: 0,
      session: false,
      async: false,
      run: () => registry.names().filter((name) => !name.startsWith('system.')),
    },
  };
}
