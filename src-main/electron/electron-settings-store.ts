import Store from 'electron-store';
import { SETTINGS_FILE_NAME } from '../settings/conf-settings-store.js';
import { ValidatedSettingsStore } from '../settings/validated-settings-store.js';

/** Inside Electron: electron-store (built on conf), same file name, validation and migrations as under Node. */
export class ElectronSettingsStore extends ValidatedSettingsStore {
  constructor() {
    const store = new Store<Record<string, unknown>>({ name: SETTINGS_FILE_NAME });
    super({
      read: () => store.store,
      write: (s) => {
        store.store = s;
      },
    });
  }
}
