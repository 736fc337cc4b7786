import { z } from 'zod';
import { id } from './fields.js';

/** Restore, export, verify and delete of one point, and the operations that carry them out. */

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

export const pointsChannels = {
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

export const pointsEvents = {
  /** A restore, export or verify ended (success, failure or cancel). */
  'operations.finished': operationFinishedSchema,
} as const;
