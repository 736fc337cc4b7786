import Conf from 'conf';
import { ValidatedSettingsStore } from './validated-settings-store.js';

export const SETTINGS_FILE_NAME = 'settings';

/**
 * The settings store under plain Node (CLI, browser mode, tests). electron-store writes the same file format
 * inside Electron (it is built on conf). conf gets no JSON schema: every write is the zod-validated document
 * (ValidatedSettingsStore), and a second check by ajv cost every CLI process a schema compile at start-up.
 */
export class ConfSettingsStore extends ValidatedSettingsStore {
  constructor(dataDir: string) {
    const conf = new Conf<Record<string, unknown>>({
      cwd: dataDir,
      configName: SETTINGS_FILE_NAME,
      projectName: 'sluice',
    });
    super({
      read: () => conf.store,
      write: (s) => {
        conf.store = s;
      },
    });
  }
}
