import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import { startsWithGzip, startsWithZstd } from '../formats/compression-magic.js';
import { XvaStreamVerifier } from '../formats/xva/xva-stream-verifier.js';
import type { Remote } from '../remotes/remote.js';
import {
  type BackupFolder,
  beginCopiedFile,
  commitCopiedPoint,
  copyDirectoryObjects,
  copyFileAsDirectory,
  planPointCopy,
  readXvaChecksumFile,
  xvaChecksumMismatch,
  type BackupPoint,
  type PointCopyFile,
} from '../repository/index.js';
import { FileSink } from '../transfer/file-sink.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import { Transfer, type TransferCounters } from '../transfer/transfer-pipeline.js';

export interface PointCopyOptions {
  runId: string;
  signal?: AbortSignal | undefined;
  log: BackupLog;
  onProgress?: ((p: TransferProgress) => void) | undefined;
  /** Memory between the source's reads and the target's writes (default 32 MiB): no spool, neither side gives up. */
  memoryBufferBytes?: number;
}

export type PointCopyOutcome =
  { state: 'present' } | { state: 'copied'; bytes: number; files: number; reused: number; durationMs: number };

/**
 * Copies one point into the repository on `target` (a mirror), under the lock of its VM folder there, which
 * the caller holds (`folder`): what a stopped copy left there is cleaned first, then each missing file is streamed and checked as it passes (an
 * XVA against its checksum file and, when plain, its own chunk checksums), and the metadata, written last,
 * commits the copy. A failure or cancel leaves no partial file; files already complete stay for the next try.
 */
export async function copyPoint(
  point: BackupPoint,
  target: Remote,
  folder: BackupFolder,
  opts: PointCopyOptions,
): Promise<PointCopyOutcome> {
  const started = performance.now();
  const counters = new CopyCounters();
  const sampler = opts.onProgress
    ? new ProgressSampler(
        { runId: opts.runId, vm: { uuid: point.vmUuid, name: point.vmName }, disk: null, spoolCapBytes: 0 },
        opts.onProgress,
      )
    : undefined;
  try {
    const left = await folder.cleanFullLeftovers();
    const temps = point.mode === 'delta' ? await folder.removeDeltaTemporaries(point.jobId) : [];
    for (const name of [...left.removedTemporary, ...left.removedOrphans, ...temps])
      opts.log('info', `Removed ${name}, left on the target by a copy that did not finish.`);
    const plan = await planPointCopy(point, target);
    if (plan.state === 'present') return plan;
    if (sampler) {
      sampler.totalBytes = plan.files.reduce((n, f) => n + f.size, 0);
      sampler.restart(1, counters);
      sampler.start();
      sampler.setPhase('transfer');
    }
    for (const f of plan.files) {
      opts.signal?.throwIfAborted();
      await copyFile(point, target, f, counters, opts);
    }
    opts.signal?.throwIfAborted();
    sampler?.setPhase('commit');
    await commitCopiedPoint(point, target, plan);
    sampler?.stop('done');
    return {
      state: 'copied',
      bytes: counters.bytesWritten,
      files: plan.files.length,
      reused: plan.reused.length,
      durationMs: performance.now() - started,
    };
  } catch (err) {
    sampler?.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    if (opts.signal?.aborted)
      throw new SluiceError('CANCELLED', 'The copy was cancelled.', {
        context: { vm: point.vmName, point: point.id },
        cause: err,
      });
    throw err;
  }
}

/** One file, source stream → bounded buffer → target upload, committed only when whole and checked. */
async function copyFile(
  point: BackupPoint,
  target: Remote,
  f: PointCopyFile,
  counters: CopyCounters,
  opts: PointCopyOptions,
): Promise<void> {
  const shown = target.displayPath(f.targetKey);
  if (f.kind === 'directory' || f.kind === 'vhd-to-directory') {
    // Small objects, written whole (put-if-absent): no buffer between the two remotes is needed.
    let done = 0;
    const onBytes = (n: number) => void (done += n);
    counters.current = directoryCounters(() => done);
    try {
      if (f.kind === 'directory') await copyDirectoryObjects(point, target, f, onBytes, opts.signal);
      else await copyFileAsDirectory(point, target, f, onBytes, opts.signal);
    } finally {
      counters.finish(done);
    }
    return;
  }
  if (f.kind === 'sidecar') {
    const bytes = await point.remote.read(f.sourceKey, { maxBytes: 64 * 1024 * 1024 });
    if (f.replace) await target.overwrite(f.targetKey, bytes);
    else await target.writeNew(f.targetKey, bytes);
    counters.finish(bytes.length);
    return;
  }
  const check = f.kind === 'xva' ? await xvaCheck(point, f) : undefined;
  const upload = await beginCopiedFile(target, f);
  try {
    const source = await point.remote.createReadStream(f.sourceKey).catch((e: unknown) => {
      throw describeFsError(e, point.remote.displayPath(f.sourceKey), 'read');
    });
    const sink = new FileSink(upload.file, shown);
    const transfer = new Transfer({
      source: source as AsyncIterable<Buffer>,
      sink,
      buffer: { memoryCapBytes: opts.memoryBufferBytes ?? 32 * 1024 * 1024, spoolCapBytes: 0 },
      signal: opts.signal,
      inspect: check?.inspect,
      onFailure: () => source.destroy(),
    });
    counters.current = transfer.counters;
    const done = await transfer.run();
    await sink.settle();
    check?.finish();
    if (done.bytesWritten !== f.size)
      throw new SluiceError(
        'REMOTE_ERROR',
        `${point.remote.displayPath(f.sourceKey)} gave ${done.bytesWritten} bytes where it holds ${f.size}.`,
        { hint: 'The source changed during the copy (a merge or another tool); copy again.', context: { file: shown } },
      );
    await upload.commit(async (file) => {
      const size = await file.size();
      if (size !== f.size)
        throw new SluiceError(
          'REMOTE_ERROR',
          `The target holds ${size} bytes of ${shown} where ${f.size} were written.`,
          {
            hint: 'The target lost data: check it.',
            context: { file: shown },
          },
        );
    });
    counters.finish(f.size);
  } catch (err) {
    counters.current = undefined;
    await upload.abort();
    throw err;
  }
}

/** An XVA is checked as it passes: against its checksum file, and chunk by chunk when it is not compressed. */
async function xvaCheck(point: BackupPoint, f: PointCopyFile) {
  const context = { vm: point.vmName, point: point.id };
  const checksum = await readXvaChecksumFile(point.remote, f.sourceKey);
  if (checksum.state === 'unreadable')
    throw new SluiceError(
      'REMOTE_ERROR',
      `The checksum file ${checksum.path} cannot be read: the copy would carry it unchecked.`,
      {
        hint: 'Run `npx sluice verify` on the source to see whether the point is sound.',
        context,
      },
    );
  const hash = checksum.state === 'present' ? checksum.hash() : undefined;
  let verifier: XvaStreamVerifier | undefined = await XvaStreamVerifier.create();
  let first = true;
  return {
    inspect(chunk: Buffer): void {
      if (first) {
        first = false;
        if (startsWithZstd(chunk) || startsWithGzip(chunk)) verifier = undefined;
      }
      verifier?.update(chunk);
      hash?.update(chunk);
    },
    finish(): void {
      verifier?.finish();
      if (checksum.state === 'present' && hash!.digest('hex') !== checksum.expectedHex)
        throw xvaChecksumMismatch(`${point.vmName} ${point.id}`, checksum.path, verifier === undefined, context);
    },
  };
}

/** A directory copy's bytes as a pipeline's counters (no buffer: objects go across whole). */
function directoryCounters(bytes: () => number): TransferCounters {
  return {
    get bytesRead() {
      return bytes();
    },
    get bytesWritten() {
      return bytes();
    },
    buffer: { memoryBytes: 0, spoolBytes: 0, spoolPeakBytes: 0, memoryPeakBytes: 0 },
    producerBlockedMs: 0,
    throttledMs: 0,
    consumerStarvedMs: 0,
  };
}

/** The counters of the file in flight added to those of the files before it, for one progress line per point. */
class CopyCounters implements TransferCounters {
  current: TransferCounters | undefined;
  private doneBytes = 0;
  get bytesRead(): number {
    return this.doneBytes + (this.current?.bytesRead ?? 0);
  }
  get bytesWritten(): number {
    return this.doneBytes + (this.current?.bytesWritten ?? 0);
  }
  get buffer(): TransferCounters['buffer'] {
    return this.current?.buffer ?? { memoryBytes: 0, spoolBytes: 0, spoolPeakBytes: 0, memoryPeakBytes: 0 };
  }
  get producerBlockedMs(): number {
    return this.current?.producerBlockedMs ?? 0;
  }
  get throttledMs(): number {
    return this.current?.throttledMs ?? 0;
  }
  get consumerStarvedMs(): number {
    return this.current?.consumerStarvedMs ?? 0;
  }
  finish(bytes: number): void {
    this.doneBytes += bytes;
    this.current = undefined;
  }
}
