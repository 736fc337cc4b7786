import type { Settings } from './settings-schema.js';

/**
 * Settings persistence, whatever keeps it. Reads come from memory; every update is validated, written through
 * and announced.
 */
export interface SettingsStore {
  get(): Settings;
  update(mutate: (draft: Settings) => void): Promise<Settings>;
  onChange(listener: (settings: Settings) => void): () => void;
}
