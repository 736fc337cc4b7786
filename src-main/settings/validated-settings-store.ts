import { migrateSettings } from './settings-migrations.js';
import { settingsSchema, type Settings } from './settings-schema.js';
import type { SettingsStore } from './settings-store.js';

/** Where the settings document is kept: conf under Node, electron-store inside Electron (the same file format). */
export interface SettingsBackend {
  read(): unknown;
  write(settings: Settings): void;
}

/**
 * The settings store over any backend: migrates what it finds on load (an older file is upgraded, a newer
 * one refused), serves reads from memory, and validates every update before writing it through.
 */
export class ValidatedSettingsStore implements SettingsStore {
  private current: Settings;
  private readonly listeners = new Set<(s: Settings) => void>();

  constructor(private readonly backend: SettingsBackend) {
    const stored = backend.read();
    this.current = migrateSettings(stored);
    // Only a migrated (or new) file is written back: a process that merely reads its settings writes nothing.
    if (JSON.stringify(stored) !== JSON.stringify(this.current)) backend.write(this.current);
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  async update(mutate: (draft: Settings) => void): Promise<Settings> {
    const draft = structuredClone(this.current);
    mutate(draft);
    const next = settingsSchema.parse(draft);
    this.backend.write(next);
    this.current = next;
    for (const l of this.listeners) l(structuredClone(next));
    return structuredClone(next);
  }

  /**
   * Re-reads the backend after another process changed the file (`sluice jobs add` while the daemon runs);
   * listeners hear of it when the content differs. A file that cannot be read now is left for the next try.
   */
  reload(): boolean {
    let next: Settings;
    try {
      next = migrateSettings(this.backend.read());
    } catch {
      return false;
    }
    if (JSON.stringify(next) === JSON.stringify(this.current)) return false;
    this.current = next;
    for (const l of this.listeners) l(structuredClone(next));
    return true;
  }

  onChange(listener: (s: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
