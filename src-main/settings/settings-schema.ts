import { z } from 'zod';
import { preferencesSchema } from '../../src-shared/contract/settings.js';
import { jobSchema } from '../../src-shared/contract/jobs.js';

/**
 * The persisted settings file. Passwords never live here: a host names its secret by id and the secret
 * store keeps it (grep the settings file for a password and you find nothing).
 */
export const SETTINGS_SCHEMA_VERSION = 3;

export const hostSettingSchema = z.object({
  id: z.string(),
  label: z.string(),
  url: z.string(),
  username: z.string(),
  trustedFingerprint: z.string().nullable(),
  secretId: z.string(),
});
export type HostSetting = z.infer<typeof hostSettingSchema>;

export const folderRemoteSettingSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.literal('folder'),
  path: z.string(),
  /** Encrypted at rest (XO's format); its key is in the secret store (`remoteKeySecretId`), never here. */
  encrypted: z.boolean().optional(),
  /** Incremental disks as VHD directories on this folder too (XO's `useVhdDirectory`); absent: VHD files. */
  useVhdDirectory: z.boolean().optional(),
});
/** `path` is the canonical s3:// location (formatS3Location); the secret key is the secret `secretId` names. */
export const s3RemoteSettingSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.literal('s3'),
  path: z.string(),
  endpoint: z.string().optional(),
  bucket: z.string(),
  prefix: z.string(),
  region: z.string(),
  pathStyle: z.boolean(),
  accessKeyId: z.string(),
  secretId: z.string(),
  /** Encrypted at rest (XO's format); its key is in the secret store (`remoteKeySecretId`), never here. */
  encrypted: z.boolean().optional(),
});
export const remoteSettingSchema = z.discriminatedUnion('kind', [folderRemoteSettingSchema, s3RemoteSettingSchema]);
export type RemoteSetting = z.infer<typeof remoteSettingSchema>;

export const jobSettingSchema = jobSchema;
export type JobSetting = z.infer<typeof jobSettingSchema>;

export const settingsSchema = z.object({
  schemaVersion: z.literal(SETTINGS_SCHEMA_VERSION),
  hosts: z.array(hostSettingSchema),
  remotes: z.array(remoteSettingSchema),
  jobs: z.array(jobSettingSchema),
  preferences: preferencesSchema,
  /** Certificates approved on first use, by host URL (https://host:port), for hosts not in `hosts` too (CLI). */
  trustedCertificates: z.record(z.string(), z.string()),
  /** Job entries an older file held that this version cannot read: kept, never silently dropped. */
  unreadableJobs: z.array(z.unknown()),
});
export type Settings = z.infer<typeof settingsSchema>;

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

export function defaultSettings(): Settings {
  return {
    schemaVersion: SETTINGS_SCHEMA_VERSION,
    hosts: [],
    remotes: [],
    jobs: [],
    trustedCertificates: {},
    unreadableJobs: [],
    preferences: {
      theme: 'system',
      spoolDir: null,
      spoolCapBytes: 4 * GiB,
      memoryBufferBytes: 64 * MiB,
      defaultSpeedLimitBytesPerSec: null,
      notifyOnSuccess: false,
      notifyOnFailure: true,
      notifyOnMissed: true,
    },
  };
}
