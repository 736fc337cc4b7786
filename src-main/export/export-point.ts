import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import { ProgressSampler } from '../transfer/progress-sampler.js';
import type { TransferCounters } from '../transfer/transfer-pipeline.js';
import { SluiceError } from '../errors/sluice-error.js';
import { VhdFileWriter } from '../formats/vhd/vhd-file-writer.js';
import { DEFAULT_BLOCK_SIZE, SLUICE_CREATOR_APP } from '../formats/vhd/vhd-structures.js';
import { XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import type { AtomicFile } from '../core/atomic-file.js';
import {
  type DeltaMetadata,
  fullPointDisks,
  openPlainXva,
  xvaDiskRaw,
  xvaPathOf,
  fullXvaFile,
  pickDisk,
  type BackupPoint,
  openPointDisks,
  type OpenedDisk,
} from '../repository/index.js';
import { describeFsError } from '../errors/fs-errors.js';
import { ExportOutputs } from './export-outputs.js';
import { copyFullXva } from './xva-copy.js';
import { xvaFromChains } from './xva-synthesis.js';
import { idleCounters } from '../transfer/transfer-pipeline.js';

export type ExportFormat = 'xva' | 'vhd' | 'raw';

export interface ExportOptions {
  format: ExportFormat;
  /** The file (xva, or one disk), or a folder for vhd/raw of several disks. */
  out: string;
  /** vhd/raw: only this disk (uuid or position). */
  disk?: string;
  runId: string;
  signal?: AbortSignal;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
}

export interface ExportResult {
  files: Array<{ path: string; position: string | null; bytes: number }>;
  durationMs: number;
}

/**
 * A disk to export: its blocks (block-size pieces, index order; absent ones read as zeros), its size, and the
 * bytes of the repository to read for it, which `blocks` counts into `read` as it goes (a chain's present
 * blocks; a full point's whole disk, zeros included, out of its XVA).
 */
interface DiskSource {
  uuid: string;
  position: string;
  name: string;
  size: number;
  blockSize: number;
  toRead: number;
  blocks(read: { bytesRead: number }): AsyncGenerator<{ index: number; data: Buffer }>;
}

/**
 * Exports a point to standalone files for use elsewhere: an XVA (importable by XCP-ng / XenServer / XO), a
 * dynamic VHD per disk (a chain flattened), or raw images (sparse). The repository is only read, and checked
 * as it is read. All or nothing: every output is written under a temp name beside its target and renamed
 * only when all are complete; a failure or cancel leaves no file, and an existing file is never replaced.
 */
export async function exportPoint(point: BackupPoint, opts: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const counters = idleCounters();
  const sampler = new ProgressSampler(
    { runId: opts.runId, vm: { uuid: point.vmUuid, name: point.vmName }, disk: null, spoolCapBytes: 0 },
    opts.onProgress,
  );
  sampler.restart(1, counters);
  sampler.start();
  const opened: OpenedDisk[] = [];
  let outputs: ExportOutputs | undefined;
  try {
    const context = { vm: point.vmName, point: point.id };
    const files: ExportResult['files'] = [];
    if (opts.format === 'xva') {
      outputs = await ExportOutputs.claim([opts.out], context);
      files.push(await writeXvaFile(point, await outputs.open(opts.out), opened, counters, sampler, opts.signal));
    } else {
      const sources = await diskSources(point, opts, opened);
      const targets = await diskTargets(point, sources, opts);
      outputs = await ExportOutputs.claim(targets, context, {
        ...(targets[0] !== opts.out ? { makeFolder: opts.out } : {}),
        log: (message) => opts.log('info', message),
      });
      // Each disk reports on its own line; the VM's line carries the phases and names the disks, so none is
      // counted twice and the ones not yet begun show as waiting.
      sampler.disks = sources.map((s) => ({ uuid: s.uuid, name: s.name }));
      sampler.setPhase('transfer');
      for (const [i, s] of sources.entries())
        files.push(await writeDiskFile(await outputs.open(targets[i]!), s, sampler, opts));
    }
    // Every output complete: only now do they appear under their names, together.
    opts.signal?.throwIfAborted();
    await outputs.placeAll();
    sampler.stop('done');
    opts.log('info', `Exported ${point.vmName} ${point.id} as ${opts.format}: ${files.map((f) => f.path).join(', ')}.`);
    return { files, durationMs: performance.now() - started };
  } catch (err) {
    await outputs?.abortAll();
    sampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    throw asDamage(err, point);
  } finally {
    await Promise.all(opened.map((o) => o.chain.close()));
  }
}

type ExportedFile = ExportResult['files'][number];
type Counters = { bytesRead: number; bytesWritten: number };

/** The point as one XVA: a full point's file copied as stored, an incremental one built from its chains. */
async function writeXvaFile(
  point: BackupPoint,
  out: AtomicFile,
  opened: OpenedDisk[],
  counters: Counters,
  sampler: ProgressSampler,
  signal: AbortSignal | undefined,
): Promise<ExportedFile> {
  let bytes: number;
  if (point.mode === 'full') {
    sampler.totalBytes = (await fullXvaFile(point)).size;
    sampler.setPhase('transfer');
    bytes = await copyFullXva(point, out, counters, signal);
  } else {
    opened.push(...(await openPointDisks(point)));
    sampler.setPhase('transfer');
    bytes = await writeStream(out, xvaFromChains(point.metadata as DeltaMetadata, opened), counters, signal);
  }
  await out.seal();
  return { path: out.finalPath, position: null, bytes };
}

/** Where each disk goes: `out` itself for one disk unless it is a folder, else a file per disk inside it. */
async function diskTargets(point: BackupPoint, sources: DiskSource[], opts: ExportOptions): Promise<string[]> {
  const single = sources.length === 1 && !(await isFolder(opts.out));
  return sources.map((s) =>
    single
      ? opts.out
      : path.join(opts.out, `${point.vmName.replace(/[^\w.-]+/g, '_')}-${point.id}-disk${s.position}.${opts.format}`),
  );
}

/**
 * One disk as a VHD or raw file, on a progress line of its own (as a backup's disks have). Its total is what
 * it reads from the repository: the bytes it writes are known only once the zeros are left out.
 */
async function writeDiskFile(
  out: AtomicFile,
  s: DiskSource,
  sampler: ProgressSampler,
  opts: ExportOptions,
): Promise<ExportedFile> {
  const disk: TransferCounters = idleCounters();
  const diskSampler = sampler.forDisk({ uuid: s.uuid, name: s.name });
  diskSampler.totalBytes = s.toRead;
  diskSampler.totalOf = 'read';
  diskSampler.phase = 'transfer';
  diskSampler.restart(1, disk);
  diskSampler.start();
  try {
    const bytes =
      opts.format === 'vhd' ? await writeVhd(out, s, disk, opts.signal) : await writeRaw(out, s, disk, opts.signal);
    await out.seal();
    diskSampler.stop('done');
    return { path: out.finalPath, position: s.position, bytes };
  } catch (err) {
    diskSampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    throw err;
  }
}

function asDamage(err: unknown, point: BackupPoint): unknown {
  if (err instanceof XvaVerifyError) {
    return new SluiceError(
      'REMOTE_ERROR',
      `The backup ${point.vmName} ${point.id} is damaged: ${err.message}${err.entry ? ` in ${err.entry}` : ''} (byte ${err.offset})`,
      {
        hint: "This point cannot be exported safely; use another point, and check the remote's disk.",
        context: { vm: point.vmName, point: point.id },
        damage: { kind: err.damage, offset: err.offset, file: point.mode === 'full' ? xvaPathOf(point) : '' },
      },
    );
  }
  return err;
}

async function isFolder(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => p.endsWith(path.sep),
  );
}

async function diskSources(point: BackupPoint, opts: ExportOptions, opened: OpenedDisk[]): Promise<DiskSource[]> {
  if (point.mode === 'delta') {
    const all = await openPointDisks(point);
    opened.push(...all);
    const chosen = opts.disk
      ? [
          pickDisk(
            all.map((o) => ({ ...o.disk, o })),
            opts.disk,
            point,
          ).o,
        ]
      : all;
    return chosen.map(({ disk, chain }) => {
      const present = chain.presentBlocks();
      return {
        uuid: disk.uuid,
        position: disk.position,
        name: disk.name,
        size: chain.size,
        blockSize: chain.blockSize,
        toRead: present.length * chain.blockSize,
        async *blocks(read: { bytesRead: number }) {
          for (const index of present) {
            const data = await chain.readBlock(index);
            read.bytesRead += data.length;
            yield { index, data };
          }
        },
      };
    });
  }
  const { disks } = await fullPointDisks(point);
  const chosen = opts.disk ? [pickDisk(disks, opts.disk, point)] : disks;
  return chosen.map((d) => ({
    uuid: d.uuid,
    position: d.position,
    name: d.name,
    size: d.virtualSize,
    blockSize: DEFAULT_BLOCK_SIZE,
    toRead: d.virtualSize,
    async *blocks(read: { bytesRead: number }) {
      // One pass over the XVA per disk: its chunks, gathered into VHD-sized blocks; all-zero blocks left out.
      let index = 0;
      let fill = 0;
      let block = Buffer.alloc(DEFAULT_BLOCK_SIZE);
      for await (const piece of xvaDiskRaw(await openPlainXva(point, 'export disks'), d.id, d.virtualSize)) {
        read.bytesRead += piece.length;
        let at = 0;
        while (at < piece.length) {
          const n = Math.min(piece.length - at, DEFAULT_BLOCK_SIZE - fill);
          piece.copy(block, fill, at, at + n);
          fill += n;
          at += n;
          if (fill === DEFAULT_BLOCK_SIZE) {
            if (!isZero(block)) yield { index, data: block };
            block = Buffer.alloc(DEFAULT_BLOCK_SIZE);
            index++;
            fill = 0;
          }
        }
      }
      if (fill > 0 && !isZero(block.subarray(0, fill))) yield { index, data: block.subarray(0, fill) };
    },
  }));
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i + 8 <= b.length; i += 8) if (b.readBigUInt64LE(i) !== 0n) return false;
  for (let i = b.length - (b.length % 8); i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

// The writers fill an output's temp file; exportPoint seals it, and places all outputs once all are complete.

async function writeStream(
  out: AtomicFile,
  body: AsyncIterable<Buffer>,
  counters: { bytesRead: number; bytesWritten: number },
  signal?: AbortSignal,
): Promise<number> {
  const file = out.finalPath;
  const h = out.handle;
  let at = 0;
  for await (const piece of body) {
    signal?.throwIfAborted();
    counters.bytesRead += piece.length;
    await h.write(piece, 0, piece.length, at).catch((e) => {
      throw describeFsError(e, file, 'write');
    });
    at += piece.length;
    counters.bytesWritten = at;
  }
  return at;
}

async function writeVhd(
  out: AtomicFile,
  s: DiskSource,
  counters: { bytesRead: number; bytesWritten: number },
  signal?: AbortSignal,
): Promise<number> {
  const file = out.finalPath;
  const h = out.handle;
  const size = Math.ceil(s.size / 512) * 512;
  // Our own creator and geometry, never the source chain's (an XO-written "xo  " footer makes qemu refuse the
  // file): every tool then reads the export at the disk's exact size.
  const writer = await VhdFileWriter.onHandle(h, file, {
    currentSize: size,
    uuid: randomUUID(),
    blockSize: s.blockSize,
    creatorApp: SLUICE_CREATOR_APP,
  });
  try {
    for await (const { index, data } of s.blocks(counters)) {
      signal?.throwIfAborted();
      await writer.writeBlock(index, data);
      counters.bytesWritten += data.length;
    }
    // The file's own length from here: its blocks and the metadata written last (footers, header, BAT).
    const { bytes } = await writer.finish();
    counters.bytesWritten = bytes;
    return bytes;
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

async function writeRaw(
  out: AtomicFile,
  s: DiskSource,
  counters: { bytesRead: number; bytesWritten: number },
  signal?: AbortSignal,
): Promise<number> {
  const h = out.handle;
  for await (const { index, data } of s.blocks(counters)) {
    signal?.throwIfAborted();
    const at = index * s.blockSize;
    const length = Math.min(data.length, s.size - at);
    if (length > 0 && !isZero(data.subarray(0, length))) {
      await h.write(data, 0, length, at);
      counters.bytesWritten += length;
    }
  }
  // Holes where nothing was written: a sparse file of the disk's exact size.
  await h.truncate(s.size);
  return s.size;
}
