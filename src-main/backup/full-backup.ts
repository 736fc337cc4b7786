import { formatBytes } from '../../src-shared/units.js';
import { SluiceError } from '../errors/sluice-error.js';
import { startsWithZstd } from '../formats/compression-magic.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import { XvaStreamVerifier, XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import type { RemoteUpload } from '../remotes/remote.js';
import { BackupFolder, METADATA_VERSION, type RetentionOutcome } from '../repository/index.js';
import { FileSink } from '../transfer/file-sink.js';
import { withSilenceLimit } from '../transfer/silence-watchdog.js';
import { Throttle } from '../transfer/throttle.js';
import { BlockPool } from '../core/block-pool.js';
import { Transfer, type TransferCounters } from '../transfer/transfer-pipeline.js';
import { openHostDownload, type HostStream } from '../xapi/http-export.js';
import { hostCauseOfFailure, taskFailure, waitForTask } from '../xapi/task-waiter.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import type { BackupRunOptions } from './backup-options.js';
import { longTermTagsOf, scheduleIdOf } from './xo-metadata-fields.js';
import { cleanUpFailedRun } from './failed-run-cleanup.js';
import {
  destroySnapshotWithDisks,
  leaveOutNamedDisks,
  removeHostLeftovers,
  takeBackupSnapshot,
} from './host-snapshot.js';
import { createOwnedTask } from '../xapi/owned-tasks.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { runRetentionPhase } from './retention-phase.js';
import { XvaSizeEstimate } from './export-size-estimate.js';
import { retryFromStart } from './retry-policy.js';

export interface FullBackupResult {
  vmUuid: string;
  pointId: string;
  xvaPath: string;
  bytes: number;
  attempts: number;
  durationMs: number;
  spoolPeakBytes: number;
  /** Time the writer waited for the host, and the reader for the destination (ms): where the time went. */
  waitedForHostMs: number;
  waitedForDestinationMs: number;
  /** What retention kept and deleted (absent when the run has no retention). */
  retention?: RetentionOutcome;
}

/**
 * One full backup of one VM: snapshot → GET /export of the snapshot → `<ts>.xva` (temp name, verified as it
 * streams, fsync'ed, renamed) → checksum file → metadata JSON last → snapshot destroyed with its disks.
 * Whatever fails, the VM folder is left as it was before the run: no temp file, no half point, no snapshot.
 */
export async function runFullBackup(
  xapi: XapiSession,
  vmRef: string,
  opts: BackupRunOptions,
): Promise<FullBackupResult> {
  const started = performance.now();
  const vmRecord = (await xapi.call<Record<string, unknown>>('VM.get_record', vmRef)) as Record<string, unknown> & {
    uuid: string;
    name_label: string;
  };
  const vm = { uuid: vmRecord.uuid, name: vmRecord.name_label };
  const ctx = { host: new URL(xapi.url).host, vm: vm.name };
  const sampler = new ProgressSampler(
    { runId: opts.runId, vm, disk: null, spoolCapBytes: opts.spoolCapBytes },
    opts.onProgress,
  );
  const folder = await BackupFolder.open(opts.remoteRoot, vm.uuid);
  const release = await folder.lock(`Sluice backup ${opts.runId}`);
  let snapRef: string | undefined;
  sampler.start();
  try {
    const cleaned = await folder.cleanFullLeftovers();
    for (const f of [...cleaned.removedTemporary, ...cleaned.removedOrphans])
      opts.log('info', `Removed leftover ${f} from an earlier run that did not finish.`, ctx);
    for (const f of cleaned.brokenMetadata)
      opts.log('warn', `Removed metadata ${f}: its XVA file is missing, so that point could not be restored.`, ctx);
    await removeHostLeftovers(xapi, vmRef, opts, ctx);

    sampler.setPhase('snapshot');
    const when = await folder.freeTimestamp(new Date());
    snapRef = await takeBackupSnapshot(xapi, vmRef, vm.name, opts.runId, when);
    await leaveOutNamedDisks(xapi, snapRef, opts.log, ctx);
    const snapRecord = await xapi.call<Record<string, unknown>>('VM.get_record', snapRef);
    const point = await folder.beginFullPoint(when);

    // No length from the host: an estimate, marked as one, until the stream ends (none for a compressed
    // export, whose length has nothing to do with the disks' allocation).
    const estimate = opts.compression === 'none' ? await XvaSizeEstimate.of(xapi, vmRef) : undefined;
    if (estimate) [sampler.totalBytes, sampler.estimate] = [estimate.initial, 'allocation'];
    sampler.setPhase('transfer');
    const { bytes, sha256, attempts, spoolPeakBytes, waitedForHostMs, waitedForDestinationMs } = await transferXva(
      { xapi, snapRef, opts, sampler, ctx, estimate },
      point.xva,
    );

    sampler.totalBytes = bytes;
    sampler.estimate = undefined;
    sampler.estimator = undefined;
    sampler.setPhase('commit');
    await point.commit(sha256, {
      jobId: opts.jobId,
      mode: 'full',
      scheduleId: scheduleIdOf(opts),
      timestamp: when.getTime(),
      version: METADATA_VERSION,
      vm: vmRecord,
      vmSnapshot: snapRecord,
      size: bytes,
      tags: longTermTagsOf(opts, when),
    });

    sampler.setPhase('cleanup');
    await destroySnapshotWithDisks(xapi, snapRef);
    snapRef = undefined;
    opts.log('info', `Backed up ${vm.name}: ${formatBytes(bytes)} in ${attempts} attempt(s).`, ctx);
    const retention = await runRetentionPhase(vm, opts, sampler, ctx, 'full');
    sampler.stop('done');
    return {
      vmUuid: vm.uuid,
      pointId: point.id,
      xvaPath: point.xvaPath,
      bytes,
      attempts,
      durationMs: performance.now() - started,
      spoolPeakBytes,
      waitedForHostMs,
      waitedForDestinationMs,
      ...(retention ? { retention } : {}),
    };
  } catch (err) {
    throw await cleanUpFailedRun(xapi, snapRef, err, ctx, sampler, opts);
  } finally {
    await release();
  }
}

interface XvaTransfer {
  bytes: number;
  sha256: string;
  attempts: number;
  spoolPeakBytes: number;
  waitedForHostMs: number;
  waitedForDestinationMs: number;
}

/** The export of one snapshot, the same for every attempt. */
interface XvaExport {
  xapi: XapiSession;
  snapRef: string;
  opts: BackupRunOptions;
  sampler: ProgressSampler;
  ctx: Record<string, string>;
  estimate: XvaSizeEstimate | undefined;
}

/** What one attempt at the export writes through: the sink is new for each attempt, the rest is shared. */
interface ExportTarget {
  file: RemoteUpload;
  sink: FileSink;
  throttle: Throttle | undefined;
  pool: BlockPool;
}

async function transferXva(job: XvaExport, file: RemoteUpload): Promise<XvaTransfer> {
  const { opts, ctx } = job;
  // XO's checksum file names its algorithm ($1$ md5, $5$ sha256, $6$ sha512) and XO reads all three; SHA-256
  // runs at twice MD5's speed on CPUs with SHA extensions, and a backup's CPU budget is its throughput.
  let sink = new FileSink(file.file, file.file.name, { hash: 'sha256' });
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  let spoolPeakBytes = 0;
  const pool = new BlockPool();
  try {
    return await retryFromStart(
      'the export',
      { policy: opts.retry, signal: opts.signal, log: opts.log, context: ctx },
      async (attempt) => {
        if (attempt > 1) sink = await sink.reset();
        const target = { file, sink, throttle, pool };
        const done = await exportAttempt(job, target, attempt, (peak) => {
          spoolPeakBytes = Math.max(spoolPeakBytes, peak);
        });
        return { ...done, spoolPeakBytes };
      },
    );
  } catch (err) {
    await file.abort();
    throw err;
  }
}

/** One GET /export under its own host task, from the first byte to the file committed. */
async function exportAttempt(
  job: XvaExport,
  target: ExportTarget,
  attempt: number,
  onSpoolPeak: (bytes: number) => void,
): Promise<Omit<XvaTransfer, 'spoolPeakBytes'>> {
  const { xapi, snapRef, opts, ctx } = job;
  const taskRef = await createOwnedTask(xapi, 'Sluice backup export', `${ctx.vm} (${opts.runId})`, opts.runId);
  let stream: HostStream | undefined;
  try {
    const verifier = opts.compression === 'none' ? await XvaStreamVerifier.create() : undefined;
    stream = await openHostDownload(
      xapi,
      '/export',
      { ref: snapRef, task_id: taskRef, use_compression: opts.compression === 'zstd' ? 'zstd' : 'false' },
      { signal: opts.signal, context: { ...ctx, phase: 'transfer' }, pool: target.pool },
    );
    const counters = await streamExport(job, stream, target, verifier, attempt);
    onSpoolPeak(counters.buffer.spoolPeakBytes);
    // The body ends when the host closes the connection, on success or not: the task says which.
    const task = await waitForTask(xapi, taskRef, { signal: opts.signal, timeoutMs: 10 * 60_000 });
    if (task.status !== 'success') throw taskFailure(task, 'export');
    await commitExport(job, target, verifier, counters.bytesWritten);
    return {
      bytes: counters.bytesWritten,
      sha256: target.sink.digestHex()!,
      attempts: attempt,
      waitedForHostMs: counters.consumerStarvedMs,
      waitedForDestinationMs: counters.producerBlockedMs,
    };
  } catch (err) {
    stream?.abort(err);
    await target.sink.settle();
    const cause = await hostCauseOfFailure(xapi, taskRef, err, 'export', isCutStream);
    if (opts.signal?.aborted)
      throw new SluiceError('CANCELLED', 'The backup was cancelled.', { context: ctx, cause: err });
    throw cause;
  } finally {
    await xapi.call('task.destroy', taskRef).catch(() => {});
  }
}

/** The host's stream through the buffer into the sink, checked as it passes. */
async function streamExport(
  { opts, sampler, ctx, estimate }: XvaExport,
  stream: HostStream,
  target: ExportTarget,
  verifier: XvaStreamVerifier | undefined,
  attempt: number,
): Promise<TransferCounters> {
  const silenceMs = opts.silenceLimitMs ?? 5 * 60_000;
  const source = withSilenceLimit(
    stream.body,
    silenceMs,
    () => silenceError(silenceMs, ctx),
    (e) => stream.abort(e),
  );
  const transfer = new Transfer({
    source,
    sink: target.sink,
    buffer: {
      memoryCapBytes: memoryLeftBesides(opts.memoryBufferBytes, target.file.memoryBytes),
      spoolCapBytes: opts.spoolCapBytes,
      spoolDir: opts.spoolDir,
    },
    throttle: target.throttle,
    signal: opts.signal,
    pool: target.pool,
    onFailure: (e) => stream.abort(e),
    inspect: exportInspector(verifier, ctx),
  });
  sampler.restart(attempt, transfer.counters);
  // Each attempt's stream narrows the estimate afresh, from the allocation again.
  if (estimate && verifier) sampler.estimator = estimate.follow(() => verifier.progress());
  return transfer.run();
}

/** An uncompressed export is verified as XVA as it streams; a compressed one must at least start as zstd. */
function exportInspector(verifier: XvaStreamVerifier | undefined, ctx: Record<string, string>) {
  let head: Buffer | undefined = Buffer.alloc(0);
  return (chunk: Buffer): void => {
    if (verifier) {
      try {
        verifier.update(chunk);
      } catch (e) {
        throw damagedStream(e, ctx);
      }
    } else if (head !== undefined) {
      head = Buffer.concat([head, chunk]).subarray(0, 4);
      if (head.length === 4) {
        if (!startsWithZstd(head))
          throw damagedStream(new Error('the compressed export does not start with a zstd frame'), ctx);
        head = undefined;
      }
    }
  };
}

/** The end of the XVA checked, then the file committed once the remote holds every byte written. */
async function commitExport(
  { sampler, ctx }: XvaExport,
  target: ExportTarget,
  verifier: XvaStreamVerifier | undefined,
  bytesWritten: number,
): Promise<void> {
  if (verifier) {
    sampler.setPhase('verify');
    try {
      verifier.finish();
    } catch (e) {
      throw damagedStream(e, ctx);
    }
  }
  sampler.setPhase('commit');
  await target.sink.settle();
  await target.file.commit(async (file) => {
    const size = await file.size();
    if (size !== bytesWritten)
      throw new SluiceError(
        'REMOTE_ERROR',
        `The remote holds ${size} bytes of the backup where ${bytesWritten} were written.`,
        { hint: 'The remote lost data: check the share.', context: ctx },
      );
  });
}

/**
 * The transfer's memory buffer once the upload's own buffers are counted in the budget (an S3 upload's parts):
 * the process holds what the admin set, whatever the remote. Never below 4 MiB (or the budget, if smaller), so a
 * small budget still moves; the spool takes the rest.
 */
function memoryLeftBesides(budget: number, uploadBytes: number | undefined): number {
  if (!uploadBytes) return budget;
  return Math.max(budget - uploadBytes, Math.min(budget, 4 * 1024 * 1024));
}

export function silenceError(ms: number, ctx: Record<string, string>): SluiceError {
  return new SluiceError('HOST_ERROR', `The host sent nothing for ${Math.round(ms / 1000)} s during the export.`, {
    hint: 'The host or the network stalled; Sluice retries the export.',
    context: { ...ctx, phase: 'transfer' },
    retryable: true,
  });
}

/** Errors that only say the bytes stopped, not why: the host's task knows better. */
export function isCutStream(err: unknown): boolean {
  if (err instanceof VhdFormatError) return err.damage === 'truncated';
  if (!(err instanceof SluiceError)) return false;
  if (err.code === 'HOST_UNREACHABLE') return true;
  return err.damage?.kind === 'truncated';
}

function damagedStream(err: unknown, ctx: Record<string, string>): SluiceError {
  const where = err instanceof XvaVerifyError ? `${err.entry ? ` at ${err.entry}` : ''} (byte ${err.offset})` : '';
  return new SluiceError('HOST_ERROR', `The export arrived damaged${where}: ${(err as Error).message}`, {
    hint: "The stream was cut or corrupted on the way; Sluice retries the export. If it keeps failing, check the host's storage.",
    context: { ...ctx, phase: 'verify' },
    retryable: true,
    // The byte is in the message; the context has never carried it for a stream.
    ...(err instanceof XvaVerifyError ? { damage: { kind: err.damage } } : {}),
    cause: err,
  });
}
