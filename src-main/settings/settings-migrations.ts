import {
  SETTINGS_SCHEMA_VERSION,
  defaultSettings,
  jobSettingSchema,
  settingsSchema,
  type Settings,
} from './settings-schema.js';

/**
 * Each migration takes the document of version N-1 to version N. Both stores (conf under Node,
 * electron-store in Electron) run these on load, so a file written by any older Sluice opens in a newer one.
 */
type Migration = (doc: Record<string, unknown>) => Record<string, unknown>;

const migrations: Record<number, Migration> = {
  // Version 0 is the pre-release layout: no schemaVersion, preferences flat at the top level.
  1: (doc) => {
    const defaults = defaultSettings();
    const { hosts, remotes, jobs, preferences, ...rest } = doc;
    const flatPrefs = Object.fromEntries(Object.entries(rest).filter(([k]) => k in defaults.preferences));
    return {
      schemaVersion: 1,
      hosts: Array.isArray(hosts) ? hosts : [],
      remotes: Array.isArray(remotes) ? remotes : [],
      jobs: Array.isArray(jobs) ? jobs : [],
      preferences: {
        ...defaults.preferences,
        ...flatPrefs,
        ...(typeof preferences === 'object' && preferences ? preferences : {}),
      },
    };
  },
  // Version 2 remembers approved certificates for hosts used from the CLI too.
  2: (doc) => {
    const trusted: Record<string, string> = {};
    for (const h of Array.isArray(doc.hosts)
      ? (doc.hosts as Array<{ url?: unknown; trustedFingerprint?: unknown }>)
      : []) {
      if (typeof h.url === 'string' && typeof h.trustedFingerprint === 'string') trusted[h.url] = h.trustedFingerprint;
    }
    return { ...doc, schemaVersion: 2, trustedCertificates: trusted };
  },
  // Version 3 types jobs (schedules, retention, concurrency) and adds the missed-run notification. Earlier
  // versions only reserved the list; an entry that does not fit is kept aside, not dropped.
  3: (doc) => {
    const jobs = Array.isArray(doc.jobs) ? (doc.jobs as unknown[]) : [];
    const prefs =
      typeof doc.preferences === 'object' && doc.preferences ? (doc.preferences as Record<string, unknown>) : {};
    return {
      ...doc,
      schemaVersion: 3,
      jobs: jobs.filter((j) => jobSettingSchema.safeParse(j).success),
      unreadableJobs: jobs.filter((j) => !jobSettingSchema.safeParse(j).success),
      preferences: {
        ...prefs,
        notifyOnMissed:
          typeof prefs.notifyOnMissed === 'boolean'
            ? prefs.notifyOnMissed
            : defaultSettings().preferences.notifyOnMissed,
      },
    };
  },
};

export class SettingsMigrationError extends Error {
  override readonly name = 'SettingsMigrationError';
}

export function migrateSettings(raw: unknown): Settings {
  if (raw === undefined || raw === null || (typeof raw === 'object' && Object.keys(raw).length === 0))
    return defaultSettings();
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new SettingsMigrationError('The settings file does not hold an object.');
  let doc = raw as Record<string, unknown>;
  const from = typeof doc.schemaVersion === 'number' ? doc.schemaVersion : 0;
  if (from > SETTINGS_SCHEMA_VERSION) {
    throw new SettingsMigrationError(
      `The settings file was written by a newer Sluice (schema ${from}; this one reads up to ${SETTINGS_SCHEMA_VERSION}). Update Sluice.`,
    );
  }
  for (let v = from + 1; v <= SETTINGS_SCHEMA_VERSION; v++) {
    const m = migrations[v];
    if (!m) throw new SettingsMigrationError(`No migration to settings schema ${v}.`);
    doc = m(doc);
  }
  const parsed = settingsSchema.safeParse(doc);
  if (!parsed.success) {
    throw new SettingsMigrationError(
      `The settings file is damaged: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
