import { z } from 'zod';

export const themeSchema = z.enum(['system', 'light', 'dark']);

export const preferencesSchema = z.object({
  theme: themeSchema,
  spoolDir: z.string().nullable(),
  spoolCapBytes: z.number().int().positive(),
  memoryBufferBytes: z.number().int().positive(),
  defaultSpeedLimitBytesPerSec: z.number().int().positive().nullable(),
  notifyOnSuccess: z.boolean(),
  notifyOnFailure: z.boolean(),
  /** A scheduled run that was due while Sluice was not running (and not run at start). */
  notifyOnMissed: z.boolean(),
});
export type Preferences = z.infer<typeof preferencesSchema>;

export const settingsChannels = {
  'settings.getPreferences': {
    request: z.object({}).strict(),
    response: preferencesSchema,
  },
  'settings.updatePreferences': {
    request: preferencesSchema.partial().strict(),
    response: preferencesSchema,
  },
} as const;

export const settingsEvents = {
  /** Something in the persisted settings changed (hosts, remotes, jobs, preferences). */
  'settings.changed': z.object({ section: z.enum(['hosts', 'remotes', 'jobs', 'preferences']) }),
} as const;
