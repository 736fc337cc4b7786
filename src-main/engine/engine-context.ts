import type { EventBus } from '../ipc/event-bus.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { SettingsStore } from '../settings/settings-store.js';

/** What the engine's handlers share. Built once per process by whoever hosts the engine. */
export interface EngineContext {
  settings: SettingsStore;
  secrets: SecretStore;
  bus: EventBus;
  transport: 'electron' | 'websocket';
  dataDir: string;
  version: string;
  startedAt: Date;
}
