import { z } from 'zod';
import { id } from './fields.js';

/** "Back up now" runs and the points a remote holds. */

export const backupRunResultSchema = z.object({
  runId: z.string(),
  ok: z.boolean(),
  cancelled: z.boolean(),
  vms: z.array(
    z.object({
      vmUuid: z.string(),
      vmName: z.string(),
      ok: z.boolean(),
      pointId: z.string().nullable(),
      bytes: z.number(),
      attempts: z.number(),
      error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).nullable(),
    }),
  ),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type BackupRunResult = z.infer<typeof backupRunResultSchema>;

/** One backup point on a remote, as the Backups and Dashboard views list it. */
export const backupPointSummarySchema = z.object({
  vmUuid: z.string(),
  vmName: z.string(),
  /** The point's `<ts>` (its file names). */
  id: z.string(),
  timestamp: z.string(),
  mode: z.enum(['full', 'delta']),
  jobId: z.string(),
  /**
   * What the point holds on the remote: an incremental point's VHDs as they are now (a merge grows them), a
   * full point's recorded size; null when the metadata does not say.
   */
  size: z.number().nullable(),
  /**
   * Where the point stands in its chain (read from the VHDs): a full point is standalone; an incremental one
   * is a chain's base (full VHDs) or its position-th point on the base point `basePointId` (the disk furthest
   * along decides; `uniform` false when its disks are on different chains); broken when a VHD is missing or damaged.
   */
  chain: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('standalone') }),
    z.object({ kind: z.literal('base'), length: z.number().int() }),
    z.object({
      kind: z.literal('delta'),
      position: z.number().int(),
      length: z.number().int(),
      basePointId: z.string(),
      baseTimestamp: z.string().nullable(),
      uniform: z.boolean(),
    }),
    z.object({ kind: z.literal('broken'), reason: z.string() }),
  ]),
});
export type BackupPointSummary = z.infer<typeof backupPointSummarySchema>;

export const backupsChannels = {
  'backup.start': {
    request: z
      .object({
        hostId: id,
        vmUuids: z.array(z.string().uuid()).min(1, 'Pick at least one VM'),
        remoteId: id,
        mode: z.enum(['full', 'delta']).default('full'),
        compression: z.enum(['none', 'zstd']).default('none'),
        speedLimitBytesPerSec: z.number().int().positive().nullable().default(null),
      })
      .strict(),
    response: z.object({ runId: z.string() }),
  },
  'backup.cancel': {
    request: z.object({ runId: id }).strict(),
    response: z.object({ cancelled: z.boolean() }),
  },
  /** The committed backup points of one remote (metadata only; unreadable metadata listed with the reason). */
  'backups.list': {
    request: z.object({ remoteId: id }).strict(),
    response: z.object({
      remoteId: z.string(),
      points: z.array(backupPointSummarySchema),
      unreadable: z.array(z.object({ path: z.string(), reason: z.string() })),
    }),
  },
} as const;

export const backupsEvents = {
  /** A backup run ended (success, failure or cancel), with per-VM results. */
  'backup.finished': backupRunResultSchema,
} as const;
