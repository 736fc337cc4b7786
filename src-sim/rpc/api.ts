import { registerClassMethods } from './class-methods.js';
import { createMethods } from './create-methods.js';
import { eventMethods } from './event-methods.js';
import { hostMethods } from './host-methods.js';
import { MethodRegistry } from './method-registry.js';
import { sessionMethods } from './session-methods.js';
import { systemMethods } from './system-methods.js';
import { taskMethods } from './task-methods.js';
import { vdiMethods } from './vdi-methods.js';
import { vmMethods } from './vm-methods.js';

/** The whole simulated API: generic class methods first, then the specific ones. */
export function buildApi(): MethodRegistry {
  const registry = new MethodRegistry();
  registerClassMethods(registry);
  for (const group of [sessionMethods, vmMethods, vdiMethods, createMethods, taskMethods, eventMethods, hostMethods])
    registry.defineAll(group);
  registry.defineAll(systemMethods(registry));
  return registry;
}
