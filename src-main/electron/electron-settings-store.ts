import Store from 'electron-store';
import { settingsJsonSchema, SETTINGS_FILE_NAME } from '../settings/conf-settings-store.js';
import type { Settings } from '../settings/settings-schema.js';
import { ValidatedSettingsStore } from '../settings/validated-settings-store.js';

/** Inside Electron: electron-store (built on conf), same file name, schema and migrations as under Node. */
export class ElectronSettingsStore extends ValidatedSettingsStore {
  constructor() {
    const raw = new Store<Record<string, unknown>>({ name: SETTINGS_FILE_NAME });
    let checked: Store<Settings> | undefined;
    super({
      read: () => raw.store,
      write: (s) => {
        checked ??= new Store<Settings>({ name: SETTINGS_FILE_NAME, schema: settingsJsonSchema() as never, clearInvalidConfig: false });
        checked.store = s;
      },
    });
  }
}
