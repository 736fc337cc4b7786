import Conf from 'conf';
import { z } from 'zod';
import { migrateSettings } from './settings-migrations.js';
import { settingsSchema, type Settings } from './settings-schema.js';
import type { SettingsStore } from './settings-store.js';

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
export class ConfSettingsStore implements SettingsStore {
  private readonly conf: Conf<Settings>;
  private current: Settings;
  private readonly listeners = new Set<(s: Settings) => void>();

  constructor(dataDir: string) {
    // Migrate before conf validates, so an older file is upgraded rather than rejected.
    const probe = new Conf<Record<string, unknown>>({ cwd: dataDir, configName: SETTINGS_FILE_NAME, projectName: 'sluice' });
    const migrated = migrateSettings(probe.store);
    probe.store = migrated as unknown as Record<string, unknown>;
    this.conf = new Conf<Settings>({
      cwd: dataDir,
      configName: SETTINGS_FILE_NAME,
      projectName: 'sluice',
      schema: settingsJsonSchema() as never,
      clearInvalidConfig: false,
    });
    this.current = migrated;
  }

  get path(): string {
    return this.conf.path;
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  async update(mutate: (draft: Settings) => void): Promise<Settings> {
    const draft = structuredClone(this.current);
    mutate(draft);
    const next = settingsSchema.parse(draft);
    this.conf.store = next;
    this.current = next;
    for (const l of this.listeners) l(structuredClone(next));
    return structuredClone(next);
  }

  onChange(listener: (s: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
