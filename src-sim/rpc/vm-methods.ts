import { requireObject } from '../model/lookup.js';
import { destroyVm, shutdownVm, snapshotVm, startVm } from '../model/vm-operations.js';
import type { MethodSpec } from './method-registry.js';
import { argString } from './params.js';

const done = (): '' => '';

export const vmMethods: Record<string, MethodSpec> = {
  // ignore_vdis (API 2.21) is optional.
  'VM.snapshot': {
    arity: [2, 3],
    run: ({ state }, [vm, name]) => snapshotVm(state, argString(vm, 'vm'), argString(name, 'new_name')),
  },
  'VM.destroy': { arity: 1, run: ({ state }, [vm]) => (destroyVm(state, argString(vm, 'self')), done()) },
  'VM.start': { arity: 3, run: ({ state }, [vm]) => (startVm(state, argString(vm, 'vm')), done()) },
  'VM.clean_shutdown': { arity: 1, run: ({ state }, [vm]) => (shutdownVm(state, argString(vm, 'vm'), false), done()) },
  'VM.shutdown': { arity: 1, run: ({ state }, [vm]) => (shutdownVm(state, argString(vm, 'vm'), false), done()) },
  // The simulator keeps VM.allowed_operations empty (it models no operation locks), so there is nothing to
  // recompute; the call still checks its handle as a host does.
  'VM.update_allowed_operations': {
    arity: 1,
    run: ({ state }, [vm]) => (requireObject(state.store, 'VM', argString(vm, 'self')), done()),
  },
  'VM.hard_shutdown': { arity: 1, run: ({ state }, [vm]) => (shutdownVm(state, argString(vm, 'vm'), true), done()) },
};
