import { SluiceError } from '../errors/sluice-error.js';
import {
  applyRetention,
  type RetentionOutcome,
  type CollapseOptions,
  type VhdMergeProgress,
} from '../repository/index.js';
import { idleCounters, type TransferCounters } from '../transfer/transfer-pipeline.js';
import type { BackupRunOptions } from './backup-options.js';
import type { ProgressSampler } from '../transfer/progress-sampler.js';

/**
 * Merges show in the run's progress like a transfer does: the phase is "merge", bytes read and written are
 * the merge's, the total is the child blocks to fold in. Several merges (one per disk) add up.
 */
export function mergeProgressTracker(sampler: ProgressSampler): Pick<CollapseOptions, 'onMergeProgress'> {
  const counters: TransferCounters = idleCounters();
  const finished = { read: 0, written: 0, total: 0 };
  let current: { key: string; last: VhdMergeProgress } | undefined;
  return {
    onMergeProgress: (p, pair) => {
      const key = `${pair.dir}\0${pair.parent}`;
      if (current && current.key !== key) {
        finished.read += current.last.bytesRead;
        finished.written += current.last.bytesWritten;
        finished.total += current.last.bytesTotal;
      }
      if (!current || current.key !== key) {
        if (sampler.phase !== 'merge') sampler.setPhase('merge');
        sampler.restart(1, counters);
      }
      current = { key, last: p };
      counters.bytesRead = finished.read + p.bytesRead;
      counters.bytesWritten = finished.written + p.bytesWritten;
      sampler.totalBytes = finished.total + p.bytesTotal;
      // Each merge's end is reported: a small merge may begin and end between two timer samples.
      if (p.blocksDone === p.blocksTotal) sampler.report();
    },
  };
}

/**
 * The run's retention: the "merge" phase of a delta run (deleted points fold into the chain), part of the
 * cleanup of a full run (points are just files to delete). A failure fails the run; its new point is kept.
 */
export async function runRetentionPhase(
  vm: { uuid: string; name: string },
  opts: BackupRunOptions,
  sampler: ProgressSampler,
  ctx: Record<string, string>,
  mode: 'full' | 'delta',
): Promise<RetentionOutcome | undefined> {
  if (!opts.retention) return undefined;
  const phase = mode === 'delta' ? 'merge' : 'cleanup';
  if (sampler.phase !== phase) sampler.setPhase(phase);
  try {
    const outcome = await applyRetention(
      opts.remoteRoot,
      vm.uuid,
      { jobId: opts.jobId, mode, scheduleId: opts.scheduleId },
      opts.retention,
      {
        ...(opts.signal ? { signal: opts.signal } : {}),
        log: (m) => opts.log('info', m, ctx),
        ...mergeProgressTracker(sampler),
      },
    );
    for (const d of outcome.deleted) for (const p of d.collapse?.problems ?? []) opts.log('warn', p, ctx);
    if (outcome.deleted.length > 0)
      opts.log(
        'info',
        `Retention: kept ${outcome.kept.length} point(s), deleted ${outcome.deleted.map((d) => d.id).join(', ')}.`,
        ctx,
      );
    return outcome;
  } catch (err) {
    const e = err instanceof SluiceError ? err : undefined;
    throw new SluiceError(
      e?.code ?? 'REMOTE_ERROR',
      `The backup of ${vm.name} was written, but applying retention failed: ${(err as Error).message}`,
      {
        hint:
          e?.hint ??
          'The new point is safe. Run `npx sluice check --remote DIR` to see the cause; the next run finishes an interrupted merge where it stopped.',
        context: { ...e?.context, ...ctx, phase: 'merge' },
        retryable: e?.retryable,
        damage: e?.damage,
        cause: err,
      },
    );
  }
}
