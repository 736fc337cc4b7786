import { z } from 'zod';
import { backupPhases, type BackupPhase } from './backup-phases.js';
import type { ChannelNameFromList, EventNameFromList } from './ipc-names.js';
import {
  dashboardSchema,
  jobInputSchema,
  jobSchema,
  jobViewSchema,
  notificationSchema,
  runRecordSchema,
  runSummarySchema,
} from './job-schemas.js';

export { isChannelName, isEventName } from './ipc-names.js';

/**
 * The one IPC contract between the UI and the engine, whatever carries it (Electron IPC or the loopback
 * WebSocket). Every request channel names its request schema (validated in the engine) and its response
 * schema; every event names its payload schema. Add channels here and nowhere else.
 */

const id = z.string().min(1).max(200);

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

export const hostSummarySchema = z.object({
  id,
  label: z.string(),
  url: z.string(),
  username: z.string(),
  /** SHA-256 of the certificate the user approved (trust on first use); null for plain HTTP. */
  trustedFingerprint: z.string().nullable(),
  hasPassword: z.boolean(),
});
export type HostSummary = z.infer<typeof hostSummarySchema>;

export const remoteSummarySchema = z.object({
  id,
  name: z.string(),
  kind: z.literal('folder'),
  path: z.string(),
});
export type RemoteSummary = z.infer<typeof remoteSummarySchema>;

const hostUrl = z
  .string()
  .trim()
  .min(1, 'Enter the pool address, e.g. https://xcp-host.example')
  .refine((s) => {
    try {
      const u = new URL(/^[a-z]+:\/\//i.test(s) ? s : `https://${s}`);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'Not a host address: use https://host or host[:port]');

export { backupPhases, type BackupPhase };

/**
 * One sample of a transfer, several times a second. Counted by Sluice on both sides of its buffer, so the UI
 * can tell whether the host (source) or the remote (destination) holds things up.
 */
export const transferProgressSchema = z.object({
  runId: z.string(),
  vm: z.object({ uuid: z.string(), name: z.string() }),
  /** null: the whole VM (an XVA), or the VM's own phases when `disks` is set; otherwise one disk. */
  disk: z.object({ uuid: z.string(), name: z.string() }).nullable(),
  /**
   * On a VM's sample (disk null) whose disks report one by one (incremental backups): every disk of the VM in
   * order, so the ones not yet started show as waiting. The VM's bytes, total and rates are then the sum of its
   * disks' samples; this sample carries the VM's phase (and the merge's bytes in phase "merge").
   */
  disks: z.array(z.object({ uuid: z.string(), name: z.string() })).optional(),
  phase: z.enum(backupPhases),
  attempt: z.number().int(),
  bytesRead: z.number(),
  bytesWritten: z.number(),
  /** null when unknown (an XVA export has no length): shown as "unknown", never as 0 %. */
  totalBytes: z.number().nullable(),
  sourceRate: z.number(),
  destinationRate: z.number(),
  memoryBytes: z.number(),
  spoolBytes: z.number(),
  spoolCapBytes: z.number(),
  bottleneck: z.enum(['source', 'destination', 'balanced', 'unknown']),
  /** Only when it can be honest: a known total and a steady rate. */
  etaSeconds: z.number().nullable(),
  elapsedMs: z.number(),
  at: z.string(),
});
export type TransferProgress = z.infer<typeof transferProgressSchema>;

export const inventorySchema = z.object({
  pool: z.object({ uuid: z.string(), name: z.string(), defaultSrUuid: z.string().nullable() }).nullable(),
  hosts: z.array(z.object({ uuid: z.string(), name: z.string(), address: z.string(), version: z.string() })),
  srs: z.array(
    z.object({
      uuid: z.string(),
      name: z.string(),
      type: z.string(),
      size: z.number(),
      used: z.number(),
      shared: z.boolean(),
    }),
  ),
  vms: z.array(
    z.object({
      ref: z.string(),
      uuid: z.string(),
      name: z.string(),
      powerState: z.string(),
      tags: z.array(z.string()),
      residentOn: z.string().nullable(),
      disks: z.array(
        z.object({
          vdiUuid: z.string(),
          name: z.string(),
          virtualSize: z.number(),
          srUuid: z.string().nullable(),
          userdevice: z.string(),
          skipped: z.boolean(),
        }),
      ),
    }),
  ),
});
export type Inventory = z.infer<typeof inventorySchema>;

export const connectionStateSchema = z.object({
  hostId: z.string(),
  state: z.enum(['connecting', 'connected', 'error']),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).optional(),
  at: z.string(),
});
export type HostConnectionState = z.infer<typeof connectionStateSchema>;

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
  /** null when the metadata does not say. */
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

const pointRef = { remoteId: id, vmUuid: z.string().uuid(), pointId: z.string().min(1).max(100) };
const errorShape = z.object({ code: z.string(), message: z.string(), hint: z.string().optional() });

/** A restore, export, verify or delete of one point ended (its progress came as backup.progress with runId = operationId). */
export const operationFinishedSchema = z.object({
  operationId: z.string(),
  kind: z.enum(['restore', 'export', 'verify', 'delete']),
  vm: z.object({ uuid: z.string(), name: z.string() }),
  pointId: z.string(),
  ok: z.boolean(),
  cancelled: z.boolean(),
  result: z
    .union([
      z.object({
        kind: z.literal('restore'),
        vmUuid: z.string(),
        name: z.string(),
        started: z.boolean(),
        bytes: z.number(),
        disks: z.number(),
      }),
      /** One disk restored as a new VDI attached to no VM (points.restoreDisk). */
      z.object({
        kind: z.literal('restore-disk'),
        vdiUuid: z.string(),
        name: z.string(),
        /** The disk of the point: its position ("0", "1"…) and name. */
        position: z.string(),
        diskName: z.string(),
        srUuid: z.string(),
        srName: z.string(),
        bytes: z.number(),
      }),
      z.object({ kind: z.literal('export'), files: z.array(z.object({ path: z.string(), bytes: z.number() })) }),
      z.object({
        kind: z.literal('verify'),
        bytes: z.number(),
        structureOnly: z.array(z.object({ file: z.string(), reason: z.string() })),
      }),
      z.object({ kind: z.literal('delete'), mode: z.enum(['full', 'delta']), merged: z.number(), removed: z.number() }),
    ])
    .nullable(),
  error: errorShape.nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type OperationFinished = z.infer<typeof operationFinishedSchema>;

export const channels = {
  'app.info': {
    request: z.object({}).strict(),
    response: z.object({
      name: z.literal('Sluice'),
      version: z.string(),
      transport: z.enum(['electron', 'websocket']),
      platform: z.string(),
      startedAt: z.string(),
      dataDir: z.string(),
    }),
  },
  'app.ping': {
    request: z.object({ nonce: z.string().max(100) }).strict(),
    response: z.object({ nonce: z.string(), at: z.string() }),
  },
  'settings.getPreferences': {
    request: z.object({}).strict(),
    response: preferencesSchema,
  },
  'settings.updatePreferences': {
    request: preferencesSchema.partial().strict(),
    response: preferencesSchema,
  },
  'hosts.list': {
    request: z.object({}).strict(),
    response: z.array(hostSummarySchema),
  },
  'hosts.add': {
    request: z
      .object({
        label: z.string().trim().max(100).optional(),
        url: hostUrl,
        username: z.string().trim().min(1, 'Enter the username (often root)').max(200),
        password: z.string().min(1, 'Enter the password').max(1000),
        trustedFingerprint: z.string().max(200).optional(),
      })
      .strict(),
    response: hostSummarySchema,
  },
  'hosts.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  /** Trust the certificate a known pool presents now, in place: same id, password and jobs. */
  'hosts.approveCertificate': {
    request: z
      .object({
        hostId: id,
        /** The fingerprint the admin saw (and checked): the host must present exactly this one. */
        fingerprint: z
          .string()
          .trim()
          .regex(
            /^(sha-?256[:= ]?)?([0-9a-f]{2}:?){31}[0-9a-f]{2}$/i,
            'Give the SHA-256 fingerprint: 64 hex digits, colons optional',
          ),
      })
      .strict(),
    response: hostSummarySchema,
  },
  'hosts.probe': {
    request: z.object({ url: hostUrl }).strict(),
    response: z.object({
      url: z.string(),
      fingerprint: z.string().nullable(),
      knownFingerprint: z.string().nullable(),
    }),
  },
  'hosts.connectionStates': {
    request: z.object({}).strict(),
    response: z.array(connectionStateSchema),
  },
  'inventory.get': {
    request: z.object({ hostId: id }).strict(),
    response: inventorySchema.nullable(),
  },
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
  'remotes.test': {
    request: z.object({ id }).strict(),
    response: z.object({
      path: z.string(),
      freeBytes: z.number(),
      totalBytes: z.number(),
      writeBytesPerSec: z.number(),
      testedBytes: z.number(),
    }),
  },
  'remotes.list': {
    request: z.object({}).strict(),
    response: z.array(remoteSummarySchema),
  },
  'remotes.add': {
    request: z
      .object({
        name: z.string().trim().min(1, 'Give the remote a name').max(100),
        path: z.string().trim().min(1, 'Enter a folder path').max(4096),
      })
      .strict(),
    response: remoteSummarySchema,
  },
  'remotes.remove': {
    request: z.object({ id }).strict(),
    response: z.object({ removed: z.boolean() }),
  },
  /** Space on the remote's file system and what Sluice's repository holds there (no test file written). */
  'remotes.usage': {
    request: z.object({ id }).strict(),
    response: z.object({
      path: z.string(),
      freeBytes: z.number(),
      totalBytes: z.number(),
      /** Bytes of every file under the repository folder (xo-vm-backups). */
      repositoryBytes: z.number(),
      points: z.number().int(),
      vms: z.number().int(),
    }),
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
  // Jobs, their runs and the dashboard (schemas in job-schemas.ts).
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
  'dashboard.get': {
    request: z.object({}).strict(),
    response: dashboardSchema,
  },
  // Restore, export and verify of one point (pointId: the `id` backups.list gives, with its vmUuid).
  'points.restore': {
    request: z
      .object({
        ...pointRef,
        hostId: id,
        /** The SR of every disk (default: the pool's default SR). */
        srUuid: z.string().uuid().optional(),
        /** An SR per disk, keyed by the disk's uuid or position ("0", "1"…). */
        srByDisk: z.record(z.string(), z.string().uuid()).optional(),
        name: z.string().trim().min(1, 'Give the new VM a name, or leave the field empty').max(200).optional(),
        start: z.boolean().default(false),
      })
      .strict(),
    response: z.object({ operationId: z.string() }),
  },
  /** One disk of a point into a new VDI on the chosen SR (default: the pool's default SR), attached to no VM. */
  'points.restoreDisk': {
    request: z
      .object({
        ...pointRef,
        hostId: id,
        /** The disk's position ("0", "1"…, as points.disks lists it) or its uuid. */
        disk: z.string().trim().min(1, 'Pick the disk to restore').max(100),
        srUuid: z.string().uuid().optional(),
        /** The new VDI's name; default: the disk's name in the point. */
        name: z.string().trim().min(1, 'Give the new disk a name, or leave the field empty').max(200).optional(),
      })
      .strict(),
    response: z.object({ operationId: z.string() }),
  },
  'points.export': {
    request: z
      .object({
        ...pointRef,
        format: z.enum(['xva', 'vhd', 'raw']),
        outPath: z.string().trim().min(1, 'Enter the output file (xva) or folder (vhd, raw)').max(4096),
        /** vhd and raw only: just this disk (position or uuid), to a file or into a folder; absent: every disk. */
        disk: z.string().trim().min(1).max(100).optional(),
      })
      .strict()
      .refine((r) => r.format !== 'xva' || r.disk === undefined, {
        message: 'An XVA holds the whole VM: pick vhd or raw to export one disk',
        path: ['disk'],
      }),
    response: z.object({ operationId: z.string() }),
  },
  'points.verify': {
    request: z.object(pointRef).strict(),
    response: z.object({ operationId: z.string() }),
  },
  /** Deletes a point; an incremental one is merged into the next point first (progress as phase "merge"). */
  'points.delete': {
    request: z.object(pointRef).strict(),
    response: z.object({ operationId: z.string() }),
  },
  /** The disks of a point (position, name, size), for the restore dialog's SR per disk. */
  'points.disks': {
    request: z.object(pointRef).strict(),
    response: z.object({
      perDiskSr: z.boolean(),
      disks: z.array(z.object({ position: z.string(), name: z.string(), virtualSize: z.number() })),
    }),
  },
  'operations.cancel': {
    request: z.object({ operationId: id }).strict(),
    response: z.object({ cancelled: z.boolean() }),
  },
} as const;

export const events = {
  /** The engine's own state, sent on connect and whenever it changes. */
  'engine.status': z.object({ state: z.enum(['starting', 'ready', 'stopping']), at: z.string() }),
  /** A line of the engine's log meant for the user. */
  'engine.log': z.object({
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    at: z.string(),
    context: z.record(z.string(), z.string()).optional(),
  }),
  /** A pool's inventory changed (debounced). */
  'inventory.changed': z.object({ hostId: z.string(), inventory: inventorySchema }),
  /** The engine's connection to a pool changed state. */
  'hosts.connection': connectionStateSchema,
  /** A backup run ended (success, failure or cancel), with per-VM results. */
  'backup.finished': backupRunResultSchema,
  /** A live sample of a running transfer. */
  'backup.progress': transferProgressSchema,
  /** Something in the persisted settings changed (hosts, remotes, jobs, preferences). */
  'settings.changed': z.object({ section: z.enum(['hosts', 'remotes', 'jobs', 'preferences']) }),
  /** A job run began (its transfers then send backup.progress with the same runId). */
  'runs.started': runSummarySchema,
  /** A job run ended, or was recorded as missed, skipped or interrupted. */
  'runs.finished': runSummarySchema,
  /** Something the user should be told even with the window closed (Electron shows it as a desktop notification). */
  notification: notificationSchema,
  /** A restore, export or verify ended (success, failure or cancel). */
  'operations.finished': operationFinishedSchema,
} as const;

export type Channels = typeof channels;
export type ChannelName = keyof Channels;
export type RequestOf<C extends ChannelName> = z.input<Channels[C]['request']>;
export type ParsedRequestOf<C extends ChannelName> = z.output<Channels[C]['request']>;
export type ResponseOf<C extends ChannelName> = z.infer<Channels[C]['response']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.infer<Events[E]>;

export const channelNames = Object.keys(channels) as ChannelName[];
export const eventNames = Object.keys(events) as EventName[];

// Compile-time proof that the name lists (used by the preload) and the schemas name the same things.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _channelsMatch: Same<ChannelName, ChannelNameFromList> = true;
const _eventsMatch: Same<EventName, EventNameFromList> = true;
void _channelsMatch;
void _eventsMatch;
