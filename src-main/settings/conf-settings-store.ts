import Conf from 'conf';
import { z } from 'zod';
import { settingsSchema, type Settings } from './settings-schema.js';
import { ValidatedSettingsStore } from './validated-settings-store.js';

export const SETTINGS_FILE_NAME = 'settings';

/** conf's own check runs the JSON schema generated from the same zod schema, so both layers agree. */
export function settingsJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(settingsSchema, { target: 'draft-07' }) as { properties: Record<string, unknown> };
  return json.properties;
}

/**
 * The settings store under plain Node (CLI, browser mode, tests). electron-store writes the same file format
 * inside Electron (it is built on conf).
 */
export class ConfSettingsStore extends ValidatedSettingsStore {
  constructor(dataDir: string) {
    // The raw file is read without a schema, so an older one is migrated rather than rejected; writes then
    // go through conf's schema check.
    const raw = new Conf<Record<string, unknown>>({ cwd: dataDir, configName: SETTINGS_FILE_NAME, projectName: 'sluice' });
    let checked: Conf<Settings> | undefined;
    super({
      read: () => raw.store,
      write: (s) => {
        // conf checks the file already on disk when it opens it with a schema: an older file (the one just
        // migrated) must be replaced by its migrated form first, through the unchecked handle.
        if (!checked) raw.store = s;
        checked ??= new Conf<Settings>({ cwd: dataDir, configName: SETTINGS_FILE_NAME, projectName: 'sluice', schema: settingsJsonSchema() as never, clearInvalidConfig: false });
        checked.store = s;
      },
    });
  }
}
