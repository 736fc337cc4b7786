import { requireObject } from '../model/lookup.js';
import type { MethodSpec } from './method-registry.js';
import { argString } from './params.js';

export const taskMethods: Record<string, MethodSpec> = {
  'task.create': {
    arity: 2,
    run: ({ state }, [label, description]) =>
      state.tasks.create(argString(label, 'label'), argString(description, 'description')),
  },
  'task.cancel': {
    arity: 1,
    run: ({ state }, [task]) => {
      const self = argString(task, 'task');
      requireObject(state.store, 'task', self);
      state.tasks.cancel(self);
      return '';
    },
  },
  'task.destroy': {
    arity: 1,
    run: ({ state }, [task]) => {
      const self = argString(task, 'self');
      requireObject(state.store, 'task', self);
      state.tasks.destroy(self);
      return '';
    },
  },
};
