import type { Inventory } from '../../src-shared/contract/inventory.js';
import type { EventBus } from '../ipc/event-bus.js';
import type { SettingsStore } from '../settings/settings-store.js';
import type { XapiSession } from '../xapi/xapi-session.js';

/**
 * What the jobs need from whoever hosts them: the engine passes its context and pool connections down, and
 * jobs/ never imports engine/ (a layer above it).
 */
export interface JobsContext {
  settings: SettingsStore;
  bus: EventBus;
  dataDir: string;
}

/** Sessions with the pools, and their live inventories, by host id. */
export interface PoolSessions {
  session(hostId: string): Promise<XapiSession>;
  inventory(hostId: string): Promise<Inventory | null>;
}
