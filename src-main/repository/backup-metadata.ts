import { z } from 'zod';

/**
 * The metadata JSON of a backup point, as XO writes it (format 2.0.0). Records are kept whole (passthrough):
 * a restore recreates the VM from them, and XO reads fields we never look at.
 */
const record = z.record(z.string(), z.unknown());

export const fullMetadataSchema = z
  .object({
    jobId: z.string(),
    mode: z.literal('full'),
    scheduleId: z.string().default(''),
    timestamp: z.number(),
    version: z.string(),
    vm: record,
    vmSnapshot: record,
    xva: z.string(),
    size: z.number().optional(),
    tags: z.record(z.string(), z.string()).or(z.array(z.string())).optional(),
  })
  .passthrough();
export type FullMetadata = z.infer<typeof fullMetadataSchema>;

export const deltaMetadataSchema = z
  .object({
    jobId: z.string(),
    mode: z.literal('delta'),
    scheduleId: z.string().default(''),
    timestamp: z.number(),
    version: z.string(),
    vm: record,
    vmSnapshot: record,
    vbds: z.record(z.string(), record),
    vdis: z.record(z.string(), record),
    vifs: z.record(z.string(), record).or(z.array(record)),
    vhds: z.record(z.string(), z.string()),
    vtpms: z.unknown().optional(),
    isVhdDifferencing: z.record(z.string(), z.boolean()),
    size: z.number().optional(),
    tags: z.record(z.string(), z.string()).or(z.array(z.string())).optional(),
  })
  .passthrough();
export type DeltaMetadata = z.infer<typeof deltaMetadataSchema>;

export const backupMetadataSchema = z.discriminatedUnion('mode', [fullMetadataSchema, deltaMetadataSchema]);
export type BackupMetadata = z.infer<typeof backupMetadataSchema>;
