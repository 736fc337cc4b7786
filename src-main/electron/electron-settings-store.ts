import Store from 'electron-store';
import { settingsJsonSchema, SETTINGS_FILE_NAME } from '../settings/conf-settings-store.js';
import { migrateSettings } from '../settings/settings-migrations.js';
import { settingsSchema, type Settings } from '../settings/settings-schema.js';
import type { SettingsStore } from '../settings/settings-store.js';

/** Inside Electron: electron-store (built on conf), same file name, schema and migrations as under Node. */
export class ElectronSettingsStore implements SettingsStore {
  private readonly store: Store<Settings>;
  private current: Settings;
  private readonly listeners = new Set<(s: Settings) => void>();

  constructor() {
    const probe = new Store<Record<string, unknown>>({ name: SETTINGS_FILE_NAME });
    const migrated = migrateSettings(probe.store);
    probe.store = migrated as unknown as Record<string, unknown>;
    this.store = new Store<Settings>({ name: SETTINGS_FILE_NAME, schema: settingsJsonSchema() as never, clearInvalidConfig: false });
    this.current = migrated;
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  async update(mutate: (draft: Settings) => void): Promise<Settings> {
    const draft = structuredClone(this.current);
    mutate(draft);
    const next = settingsSchema.parse(draft);
    this.store.store = next;
    this.current = next;
    for (const l of this.listeners) l(structuredClone(next));
    return structuredClone(next);
  }

  onChange(listener: (s: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
