import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError } from '../errors/sluice-error.js';
import { idleCounters } from '../transfer/transfer-pipeline.js';
import type { BackupPoint } from './repository-reader.js';
import { verifyChainPoint, type FileVerifyCache } from './verify-chain-point.js';
import { verifyFullPoint, type VerifyProgress } from './verify-full-point.js';

// One entry point to re-read any point (full or incremental), for `sluice verify`, for restores that refuse a
// damaged point, and for the UI later: progress in the same shape as backups (phase "verify").

export interface PointVerifyResult {
  bytes: number;
  /** Files checked for structure only, with why (no or outdated checksums). */
  structureOnly: Array<{ file: string; reason: string }>;
}

export interface VerifyPointOptions {
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
  /** Shared by the points of one run: VHDs common to several chains are read once. */
  cache?: FileVerifyCache;
  runId?: string;
}

export async function verifyPoint(point: BackupPoint, opts: VerifyPointOptions = {}): Promise<PointVerifyResult> {
  const counters = idleCounters();
  const sampler = opts.onProgress
    ? new ProgressSampler(
        {
          runId: opts.runId ?? `verify-${point.id}`,
          vm: { uuid: point.vmUuid, name: point.vmName },
          disk: null,
          spoolCapBytes: 0,
        },
        opts.onProgress,
      )
    : undefined;
  const onProgress = (p: VerifyProgress) => {
    // A verify only reads: its total is the bytes to read and check, and it writes nothing.
    counters.bytesRead = p.bytesRead;
    if (sampler) sampler.totalBytes = p.totalBytes;
  };
  if (sampler) sampler.totalOf = 'read';
  sampler?.restart(1, counters);
  sampler?.start();
  sampler?.setPhase('verify');
  try {
    const result =
      point.mode === 'full'
        ? await verifyFullPoint(point, onProgress, opts.signal).then((r) => ({
            bytes: r.bytes,
            structureOnly: r.unchecked.map((file) => ({
              file,
              reason: 'compressed, and no checksum file to check it against',
            })),
          }))
        : await verifyChainPoint(point, { onProgress, signal: opts.signal, cache: opts.cache });
    sampler?.stop('done');
    return { bytes: result.bytes, structureOnly: result.structureOnly };
  } catch (err) {
    sampler?.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    throw err;
  }
}

/**
 * The point of the same VM nearest in time to a damaged one that verifies clean (older first on a tie), or
 * undefined. At most `limit` candidates are read: this runs after a failure, to say where to go instead.
 */
export async function nearestGoodPoint(
  points: BackupPoint[],
  damaged: BackupPoint,
  opts: { limit?: number; signal?: AbortSignal } = {},
): Promise<BackupPoint | undefined> {
  const candidates = points
    .filter((p) => p.vmUuid === damaged.vmUuid && p.id !== damaged.id)
    .sort(
      (a, b) =>
        Math.abs(a.timestamp.getTime() - damaged.timestamp.getTime()) -
          Math.abs(b.timestamp.getTime() - damaged.timestamp.getTime()) ||
        a.timestamp.getTime() - b.timestamp.getTime(),
    )
    .slice(0, opts.limit ?? 4);
  const cache: FileVerifyCache = new Map();
  for (const p of candidates) {
    try {
      await verifyPoint(p, { cache, signal: opts.signal });
      return p;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
    }
  }
  return undefined;
}

/** A damaged-point error with the nearest good point in its hint. */
export async function withNearestGoodPoint(
  err: unknown,
  points: BackupPoint[],
  damaged: BackupPoint,
  signal?: AbortSignal,
): Promise<unknown> {
  if (!(err instanceof SluiceError) || err.code !== 'REMOTE_ERROR') return err;
  const good = await nearestGoodPoint(points, damaged, { signal }).catch(() => undefined);
  const hint = good
    ? `The nearest good point is ${good.id} (${good.mode}): restore that one instead (on the command line: --at ${good.id}), and check the remote's disk.`
    : "No nearby point of this VM verifies clean either: verify its other points (Backups, or `sluice verify --remote DIR --vm …`) to find one, and check the remote's disk.";
  return new SluiceError('REMOTE_ERROR', err.message, {
    hint,
    context: { ...err.context, ...(good ? { nearestGoodPoint: good.id } : {}) },
    retryable: err.retryable,
    damage: err.damage,
    cause: err,
  });
}
