import { IpcDispatcher, type Handlers } from '../ipc/ipc-dispatcher.js';
import type { EngineContext } from './engine-context.js';
import { appHandlers } from './handlers/app-handlers.js';
import { hostsHandlers } from './handlers/hosts-handlers.js';
import { remotesHandlers } from './handlers/remotes-handlers.js';
import { settingsHandlers } from './handlers/settings-handlers.js';

/** Wires every handler group to the dispatcher. A missing channel is a type error here, not a runtime surprise. */
export function createDispatcher(ctx: EngineContext): IpcDispatcher {
  const handlers: Handlers = {
    ...appHandlers(ctx),
    ...settingsHandlers(ctx),
    ...hostsHandlers(ctx),
    ...remotesHandlers(ctx),
  };
  return new IpcDispatcher(handlers);
}
