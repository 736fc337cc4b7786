import { z } from 'zod';
import { backupPhases } from './backup-phases.js';
import { id } from './fields.js';

/** Job runs (and "Back up now" runs) as their history keeps them, and what the user is told about them. */

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
/** The job id older `sluice backup` runs wrote every point under, and the prefix of the ones it writes now. */
export const CLI_BACKUP_JOB_ID = 'sluice-cli';
/**
 * The job id `sluice backup --job NAME` writes its points under (NAME defaults to the mode): one job per name,
 * so a delta job's retention never counts, nor deletes, a full job's points.
 */
export function cliBackupJobId(name: string): string {
  return `${CLI_BACKUP_JOB_ID}-${name}`;
}
/** The NAME of a `sluice backup --job NAME` job id, or undefined for any other job. */
export function cliBackupJobName(jobId: string): string | undefined {
  return jobId.startsWith(`${CLI_BACKUP_JOB_ID}-`) ? jobId.slice(CLI_BACKUP_JOB_ID.length + 1) : undefined;
}

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
  /** A mirror job's run: the remote it copied from (`remotes` are the targets). Absent on backups. */
  mirrorFrom: z.object({ id: z.string(), name: z.string() }).optional(),
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

export const notificationSchema = z.object({
  kind: z.enum(['failure', 'success', 'missed', 'interrupted']),
  title: z.string(),
  body: z.string(),
  jobId: z.string().nullable(),
  runId: z.string().nullable(),
  at: z.string(),
});
export type SluiceNotification = z.infer<typeof notificationSchema>;

export const runsChannels = {
  'runs.cancel': {
    request: z.object({ runId: id }).strict(),
    response: z.object({ cancelled: z.boolean() }),
  },
  'runs.list': {
    request: z.object({ jobId: id.optional(), limit: z.number().int().min(1).max(1000).default(50) }).strict(),
    response: z.array(runSummarySchema),
  },
  'runs.get': {
    request: z.object({ runId: id }).strict(),
    response: runRecordSchema,
  },
  'runs.summary': {
    request: z.object({ runId: id }).strict(),
    response: z.object({ text: z.string(), fileName: z.string() }),
  },
} as const;

export const runsEvents = {
  /** A job run began (its transfers then send backup.progress with the same runId). */
  'runs.started': runSummarySchema,
  /** A job run ended, or was recorded as missed, skipped or interrupted. */
  'runs.finished': runSummarySchema,
  /** Something the user should be told even with the window closed (Electron shows it as a desktop notification). */
  notification: notificationSchema,
} as const;
