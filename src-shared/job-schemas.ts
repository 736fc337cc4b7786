import { z } from 'zod';
import { backupPhases } from './backup-phases.js';

/**
 * Jobs, their runs and the dashboard, as the contract carries them (ipc-contract.ts names the channels).
 * Checks that need the engine (a cron pattern croner can read, a time zone, a configured pool or remote)
 * are made there, with the same field paths in the error.
 */

const id = z.string().min(1).max(200);
const vmUuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'Not a VM uuid');

/** What a schedule keeps after each of its runs (counted among the points this schedule made). */
export const retentionSchema = z
  .object({
    keep: z.number().int().min(1, 'Keep at least 1 point').max(10_000),
    longTerm: z
      .object({
        daily: z.number().int().min(0).max(3650).optional(),
        weekly: z.number().int().min(0).max(520).optional(),
        monthly: z.number().int().min(0).max(240).optional(),
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
  hostId: id,
  vms: vmSelectionSchema,
  /** full: an XVA per VM each run; delta: incremental VHD chains (a full VHD every `fullInterval` points). */
  mode: z.enum(['full', 'delta']),
  remoteIds: z.array(id).min(1, 'Pick at least one remote').max(10),
  schedules: z.array(jobScheduleSchema).max(20),
  /** Host-side compression, full mode only. */
  compression: z.enum(['none', 'zstd']),
  vmConcurrency: z.number().int().min(1).max(16),
  diskConcurrency: z.number().int().min(1).max(16),
  /** For the whole job (shared among the VMs in flight); null: the preference's default. */
  speedLimitBytesPerSec: z.number().int().positive().nullable(),
  /** Delta mode: a full VHD when the chain has this many points; 0: never. */
  fullInterval: z.number().int().min(0).max(1000),
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

export const runStatuses = [
  'running',
  'success',
  'partial',
  'failed',
  'cancelled',
  'interrupted',
  'missed',
  'skipped',
] as const;
export type RunStatus = (typeof runStatuses)[number];

export const runErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  /** The underlying error's message, when there is one. */
  cause: z.string().optional(),
  context: z.record(z.string(), z.string()).optional(),
});
export type RunError = z.infer<typeof runErrorSchema>;

export const runVmResultSchema = z.object({
  vmUuid: z.string(),
  vmName: z.string(),
  remoteId: z.string(),
  status: z.enum(['pending', 'running', 'success', 'failed', 'cancelled']),
  pointId: z.string().nullable(),
  bytes: z.number(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  averageBytesPerSec: z.number(),
  peakBytesPerSec: z.number(),
  attempts: z.number().int(),
  /** Full mode: one entry (the XVA, disk null); delta: one per disk. */
  disks: z.array(
    z.object({
      uuid: z.string().nullable(),
      name: z.string(),
      bytes: z.number(),
      differencing: z.boolean().nullable(),
    }),
  ),
  error: runErrorSchema.nullable(),
});
export type RunVmResult = z.infer<typeof runVmResultSchema>;

/** The job id a "Back up now" run writes its points under (point metadata, vdis/<jobId>/ on the remote). */
export const BACKUP_NOW_JOB_ID = 'sluice-ui';

export const runSummarySchema = z.object({
  runId: z.string(),
  /** null: a "Back up now" run (no job; its points carry BACKUP_NOW_JOB_ID). Older records always have a job. */
  jobId: z.string().nullable(),
  /** The job's name, or "Back up now: <VM>" for a run with no job. */
  jobName: z.string(),
  /** The pool backed up; set on "Back up now" runs (a job's pool is the job's), absent in older records. */
  hostId: z.string().optional(),
  scheduleId: z.string().nullable(),
  /** manual: run now; schedule: on time; missed: a run due while Sluice was closed, run at start. */
  trigger: z.enum(['manual', 'schedule', 'missed']),
  /** When the schedule wanted it (schedule and missed triggers). */
  scheduledFor: z.string().nullable(),
  status: z.enum(runStatuses),
  mode: z.enum(['full', 'delta']),
  remotes: z.array(z.object({ id: z.string(), name: z.string() })),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  bytes: z.number(),
  averageBytesPerSec: z.number(),
  peakBytesPerSec: z.number(),
  vms: z.array(runVmResultSchema),
  warnings: z.array(
    z.object({ message: z.string(), at: z.string(), context: z.record(z.string(), z.string()).optional() }),
  ),
  errors: z.array(runErrorSchema),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

/** One throughput sample of one transfer, at most one a second: enough to draw the run's graph later. */
export const runSampleSchema = z.object({
  /** ms since the run started. */
  t: z.number(),
  vmUuid: z.string(),
  diskUuid: z.string().nullable(),
  bytesWritten: z.number(),
  sourceRate: z.number(),
  destinationRate: z.number(),
  /** What the buffer held (memory, spool on disk, the spool's cap) and the phase; absent in older records. */
  memoryBytes: z.number().optional(),
  spoolBytes: z.number().optional(),
  spoolCapBytes: z.number().optional(),
  phase: z.enum(backupPhases).optional(),
});
export type RunSample = z.infer<typeof runSampleSchema>;

export const runRecordSchema = runSummarySchema.extend({ samples: z.array(runSampleSchema) });
export type RunRecord = z.infer<typeof runRecordSchema>;

export const jobViewSchema = jobSchema.extend({
  /** The run in progress, if any (in this process or another one on this machine). */
  runningRunId: z.string().nullable(),
  nextRuns: z.array(z.object({ scheduleId: z.string(), at: z.string() })),
  lastRun: runSummarySchema.nullable(),
});
export type JobView = z.infer<typeof jobViewSchema>;

export const dashboardSchema = z.object({
  generatedAt: z.string(),
  vms: z.object({
    protected: z.array(
      z.object({
        vmUuid: z.string(),
        vmName: z.string(),
        /** The newest committed point on any configured remote. */
        lastGoodPoint: z.object({
          pointId: z.string(),
          at: z.string(),
          mode: z.enum(['full', 'delta']),
          jobId: z.string(),
          jobName: z.string().nullable(),
          remoteId: z.string(),
        }),
      }),
    ),
    unprotected: z.array(z.object({ vmUuid: z.string(), vmName: z.string(), hostId: z.string(), reason: z.string() })),
  }),
  lastRuns: z.array(runSummarySchema),
  nextRuns: z.array(
    z.object({
      jobId: z.string(),
      jobName: z.string(),
      scheduleId: z.string(),
      scheduleName: z.string(),
      at: z.string(),
    }),
  ),
  remotes: z.array(
    z.object({
      remoteId: z.string(),
      name: z.string(),
      path: z.string(),
      /** Bytes of the committed points (their metadata's sizes). */
      usedBytes: z.number(),
      points: z.number().int(),
      freeBytes: z.number().nullable(),
      totalBytes: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
  /** Pools whose inventory could not be read (their VMs are known only from backups). */
  unreachableHosts: z.array(z.object({ hostId: z.string(), label: z.string(), error: z.string() })),
});
export type Dashboard = z.infer<typeof dashboardSchema>;

export const notificationSchema = z.object({
  kind: z.enum(['failure', 'success', 'missed', 'interrupted']),
  title: z.string(),
  body: z.string(),
  jobId: z.string().nullable(),
  runId: z.string().nullable(),
  at: z.string(),
});
export type SluiceNotification = z.infer<typeof notificationSchema>;
