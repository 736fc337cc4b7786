import { z } from 'zod';
import { id } from './fields.js';
import { runSummarySchema } from './runs.js';

/**
 * Jobs and their schedules, as the contract carries them. Checks that need the engine (a cron pattern croner
 * can read, a time zone, a configured pool or remote) are made there, with the same field paths in the error.
 */

const vmUuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'Not a VM uuid');

/** A whole number typed in a form field, with messages that say what to type (not zod's "expected int"). */
const count = (what: string, max: number, min = 0) =>
  z
    .number(`Enter a whole number of ${what} from ${min} to ${max}`)
    .int(`Enter a whole number of ${what} from ${min} to ${max}`)
    .min(min, `Enter a whole number of ${what} from ${min} to ${max}`)
    .max(max, `Enter a whole number of ${what} from ${min} to ${max}`);

/** What a schedule keeps after each of its runs (counted among the points this schedule made). */
export const retentionSchema = z
  .object({
    keep: z
      .number('Enter how many points to keep, e.g. 7')
      .int('Enter a whole number of points')
      .min(1, 'Keep at least 1 point')
      .max(10_000, 'Keep at most 10000 points'),
    longTerm: z
      .object({
        daily: count('days', 3650).optional(),
        weekly: count('weeks', 520).optional(),
        monthly: count('months', 240).optional(),
        yearly: count('years', 100).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Retention = z.infer<typeof retentionSchema>;

// Stored shapes carry no defaults (the settings file's JSON schema must not fill anything in); the input
// shapes of jobs.save do.
const scheduleFields = {
  id,
  name: z.string().trim().max(100),
  /** 5 fields (minute hour day month weekday) or 6 with seconds first, as croner reads them. */
  cron: z.string().trim().min(1, 'Enter a cron pattern, e.g. "0 2 * * *" for every day at 02:00').max(200),
  /** IANA time zone the pattern is read in, e.g. Europe/Paris. */
  timezone: z.string().trim().min(1, 'Enter a time zone, e.g. Europe/Paris or UTC').max(100),
  enabled: z.boolean(),
  retention: retentionSchema,
};
export const jobScheduleSchema = z.object(scheduleFields).strict();
export const jobScheduleInputSchema = z
  .object({
    ...scheduleFields,
    id: id.optional(),
    name: scheduleFields.name.default(''),
    timezone: scheduleFields.timezone.default('UTC'),
    enabled: scheduleFields.enabled.default(true),
  })
  .strict();
export type JobSchedule = z.infer<typeof jobScheduleSchema>;

/** Which VMs of the pool a run backs up: resolved at each run, so a new VM with the tag is picked up. */
const selectionSchema = <E extends z.ZodType<string[], string[] | undefined>>(exclude: E) =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('vms'), vmUuids: z.array(vmUuid).min(1, 'Pick at least one VM').max(1000) }).strict(),
    z
      .object({
        kind: z.literal('tags'),
        /** A VM with any of these tags. */
        tags: z.array(z.string().trim().min(1).max(200)).min(1, 'Name at least one tag').max(100),
        excludeVmUuids: exclude,
      })
      .strict(),
    z.object({ kind: z.literal('pool'), excludeVmUuids: exclude }).strict(),
  ]);
export const vmSelectionSchema = selectionSchema(z.array(vmUuid).max(1000));
export const vmSelectionInputSchema = selectionSchema(z.array(vmUuid).max(1000).default([]));
export type VmSelection = z.infer<typeof vmSelectionSchema>;

const jobFields = {
  name: z.string().trim().min(1, 'Give the job a name').max(100),
  /** The pool a backup job backs up; a mirror job has none. */
  hostId: id.optional(),
  /**
   * A mirror job (XO's): the remote whose points it copies to `remoteIds`, no host involved; `vms` picks the
   * VMs among the source's (by uuid, or all of them), `mode` which points (full or incremental), and each
   * schedule's retention is the targets'.
   */
  mirrorFrom: z.string().min(1, 'Pick the remote to copy from').max(200).optional(),
  vms: vmSelectionSchema,
  /** full: an XVA per VM each run; delta: incremental VHD chains (a full VHD every `fullInterval` points). */
  mode: z.enum(['full', 'delta']),
  remoteIds: z.array(id).min(1, 'Pick at least one remote').max(10),
  schedules: z.array(jobScheduleSchema).max(20),
  /** Host-side compression, full mode only. */
  compression: z.enum(['none', 'zstd']),
  vmConcurrency: count('VMs', 16, 1),
  diskConcurrency: count('disks', 16, 1),
  /** For the whole job (shared among the VMs in flight); null: the preference's default. */
  speedLimitBytesPerSec: z
    .number('Enter a speed, e.g. 50 (or leave it empty for the default of Settings)')
    .int()
    .positive('Enter a speed above 0 (or leave it empty for the default of Settings)')
    .nullable(),
  /** Delta mode: a full VHD when the chain has this many points; 0: never. */
  fullInterval: count('points', 1000),
  /** A run due while Sluice was not running: run it at start, or only report it. */
  missedRuns: z.enum(['run-at-start', 'report']),
  enabled: z.boolean(),
};

export const jobSchema = z.object({ id, ...jobFields, createdAt: z.string(), updatedAt: z.string() }).strict();
export type Job = z.infer<typeof jobSchema>;

/** What jobs.save takes: without an id it creates, with one it replaces that job. */
export const jobInputSchema = z
  .object({
    id: id.optional(),
    name: jobFields.name,
    hostId: jobFields.hostId,
    mirrorFrom: jobFields.mirrorFrom,
    vms: vmSelectionInputSchema,
    mode: jobFields.mode.default('delta'),
    remoteIds: jobFields.remoteIds,
    schedules: z.array(jobScheduleInputSchema).max(20).default([]),
    compression: jobFields.compression.default('none'),
    vmConcurrency: jobFields.vmConcurrency.default(2),
    diskConcurrency: jobFields.diskConcurrency.default(1),
    speedLimitBytesPerSec: jobFields.speedLimitBytesPerSec.default(null),
    fullInterval: jobFields.fullInterval.default(0),
    missedRuns: jobFields.missedRuns.default('report'),
    enabled: jobFields.enabled.default(true),
  })
  .strict();
export type JobInput = z.input<typeof jobInputSchema>;

export const jobViewSchema = jobSchema.extend({
  /** The run in progress, if any (in this process or another one on this machine). */
  runningRunId: z.string().nullable(),
  nextRuns: z.array(z.object({ scheduleId: z.string(), at: z.string() })),
  lastRun: runSummarySchema.nullable(),
});
export type JobView = z.infer<typeof jobViewSchema>;

export const jobsChannels = {
  'jobs.list': {
    request: z.object({}).strict(),
    response: z.array(jobViewSchema),
  },
  'jobs.save': {
    request: jobInputSchema,
    response: jobSchema,
  },
  'jobs.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  'jobs.runNow': {
    /** id: the job's id (or its name); scheduleId: whose retention applies (default: the job's first enabled schedule). */
    request: z.object({ id, scheduleId: id.optional() }).strict(),
    response: z.object({ runId: z.string() }),
  },
} as const;
