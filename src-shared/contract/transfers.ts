import { z } from 'zod';
import { backupPhases } from './backup-phases.js';

/** Which side holds a transfer back: the engine decides (`transfer/bottleneck-judge.ts`), the CLI and UI word it. */
export const bottleneckSides = ['source', 'destination', 'balanced', 'limit', 'unknown'] as const;
export type BottleneckSide = (typeof bottleneckSides)[number];
/** Why, when the engine knows: a side that moved nothing for a while, the spool full or filling, one side waiting. */
export const bottleneckWhys = ['stalled', 'spool-full', 'spool-filling', 'memory-filling', 'waits', 'starved'] as const;
export type BottleneckWhy = (typeof bottleneckWhys)[number];

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
   * disks' samples; this sample carries the VM's phase (and the merge's bytes in phase "merge"). `skipped`: a
   * disk left out (`[NOBAK]`), known before its own sample arrives, so it never shows as waiting.
   * `estimatedBytes`: what the disk's stream should carry, from its allocation (an upper bound on a file SR),
   * counted as an estimate for the VM's total until the disk's own sample gives the exact length.
   */
  disks: z
    .array(
      z.object({
        uuid: z.string(),
        name: z.string(),
        skipped: z.boolean().optional(),
        estimatedBytes: z.number().optional(),
      }),
    )
    .optional(),
  phase: z.enum(backupPhases),
  attempt: z.number().int(),
  bytesRead: z.number(),
  bytesWritten: z.number(),
  /** null when unknown (an XVA export has no length): shown as "unknown", never as 0 %. */
  totalBytes: z.number().nullable(),
  /**
   * Which count `totalBytes` is the end of (default written): "read" where the bytes written are not the
   * work (a verify writes nothing; an export of a full point reads the whole disk to write its data).
   */
  totalOf: z.enum(['read', 'written']).optional(),
  /**
   * Set when `totalBytes` is not a length but an estimate: "allocation", from the disks' allocation (an XVA
   * export has no length), narrowed as the stream shows each disk and never raised; "exceeded" once the
   * stream has gone past it (`totalBytes` is then null).
   */
  totalEstimate: z.enum(['allocation', 'exceeded']).optional(),
  sourceRate: z.number(),
  destinationRate: z.number(),
  memoryBytes: z.number(),
  spoolBytes: z.number(),
  spoolCapBytes: z.number(),
  /** Held for a few seconds before it changes, so a short run's verdict does not flip with every sample. */
  bottleneck: z.enum(bottleneckSides),
  bottleneckWhy: z.enum(bottleneckWhys).optional(),
  /** With bottleneckWhy "stalled": how long that side has moved nothing. */
  stalledForMs: z.number().optional(),
  /** Only when it can be honest: a known total and a steady rate. */
  etaSeconds: z.number().nullable(),
  elapsedMs: z.number(),
  at: z.string(),
});
export type TransferProgress = z.infer<typeof transferProgressSchema>;

export const transfersEvents = {
  /** A live sample of a running transfer. */
  'backup.progress': transferProgressSchema,
} as const;
