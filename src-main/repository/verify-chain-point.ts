import { SluiceError, type Damage } from '../errors/sluice-error.js';
import { digestsPathOf, type DigestsState } from '../formats/vhd/vhd-block-digests.js';
import { VhdChainReader } from '../formats/vhd/vhd-chain-reader.js';
import { VhdDirectoryReader } from '../formats/vhd/vhd-directory-reader.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import { bitmapSize, SECTOR } from '../formats/vhd/vhd-structures.js';
import {
  blockMismatch,
  digestsProblem,
  diskSizeProblem,
  footerCopyProblem,
  metadataDigestProblem,
} from './point-disk-readers.js';
import { loadDigests, openVhd, storedVhdBytes } from './remote-vhd-files.js';
import { asChainProblem } from './vhd-chain-problem.js';
import { deltaPointDisks } from './point-disks.js';
import type { BackupPoint } from './repository-reader.js';
import type { VerifyProgress } from './verify-full-point.js';

// `verify` of an incremental point: every VHD of every disk's chain is re-read whole. Structure (footer and
// header checksums, the footer copy equal to the trailing footer, BAT entries inside the file and not
// overlapping), chain links (each child names its parent's uuid), and, where Sluice recorded them, the digests
// of the metadata region and of every block. Damage is named: the file, the block, the byte offset. Each
// file's disk size is checked against the metadata's record first (point-disk-readers.ts says why), and a
// checksum file that is unreadable, or describes this VHD with another length or BAT, fails the point.

export interface ChainVerifyResult {
  bytes: number;
  files: number;
  /** Files checked for structure only (no digests, or another tool rewrote the file), with why. */
  structureOnly: Array<{ file: string; reason: string }>;
}

/** Results per VHD file, shared between the points of one `verify` run (chains share their older files). */
export type FileVerifyCache = Map<string, Promise<FileVerifyResult>>;
interface FileVerifyResult {
  bytes: number;
  structureOnly?: string;
}

export async function verifyChainPoint(
  point: BackupPoint,
  opts: { onProgress?: (p: VerifyProgress) => void; signal?: AbortSignal; cache?: FileVerifyCache } = {},
): Promise<ChainVerifyResult> {
  const damaged = (
    message: string,
    damage: Damage | undefined,
    context: Record<string, string>,
    cause?: unknown,
  ): SluiceError =>
    new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${message}`, {
      hint: "This point cannot be restored safely; use another point (`sluice verify` names the good ones), and check the remote's disk.",
      context: { vm: point.vmName, point: point.id, ...context },
      ...(damage ? { damage } : {}),
      cause,
    });
  let disks;
  try {
    disks = await deltaPointDisks(point);
    for (const disk of disks) {
      for (const [i, key] of disk.chainKeys.entries()) {
        const reader = await openVhd(point.remote, key);
        const size = reader.footer.currentSize;
        await reader.close();
        const problem = diskSizeProblem(point, disk, reader.path, size, i === disk.chain.length - 1);
        if (problem) throw problem;
      }
    }
  } catch (err) {
    if (err instanceof VhdFormatError)
      throw damaged(err.message, { kind: err.damage, offset: err.offset, file: err.source ?? '' }, {}, err);
    throw err;
  }
  // Chains share their older files: each is read once. Keyed by key; messages name the file as the remote shows it.
  const files = new Map(disks.flatMap((d) => d.chainKeys.map((key, i) => [key, d.chain[i]!] as const)));
  const sizes = await Promise.all([...files.keys()].map(async (key) => (await storedVhdBytes(point.remote, key)) ?? 0));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const cache = opts.cache ?? new Map();
  const structureOnly: ChainVerifyResult['structureOnly'] = [];
  for (const [key, file] of files) {
    opts.signal?.throwIfAborted();
    let pending = cache.get(file);
    if (!pending) {
      const onBytes = (n: number) => opts.onProgress?.({ bytesRead: done + n, totalBytes });
      pending = verifyVhdFile(point, key, onBytes, opts.signal);
      cache.set(file, pending);
    }
    let r: FileVerifyResult;
    try {
      r = await pending;
    } catch (err) {
      if (err instanceof VhdFileDamage && err.digests) throw digestsProblem(point, file, err.digests) ?? err;
      if (err instanceof VhdFileDamage) throw damaged(err.message, err.damage, err.context, err);
      if (err instanceof VhdFormatError)
        throw damaged(err.message, { kind: err.damage, offset: err.offset, file }, {}, err);
      throw err;
    }
    done += r.bytes;
    if (r.structureOnly) structureOnly.push({ file, reason: r.structureOnly });
    opts.onProgress?.({ bytesRead: done, totalBytes });
  }
  // The links between files, now that each file is known to be sound.
  for (const disk of disks) {
    try {
      await (await VhdChainReader.openEach(disk.chainKeys, (key) => openVhd(point.remote, key))).close();
    } catch (thrown) {
      const err = asChainProblem(thrown);
      if (err instanceof SluiceError) throw damaged(err.message, err.damage, { ...err.context, disk: disk.name });
      throw err;
    }
  }
  return { bytes: done, files: files.size, structureOnly };
}

class VhdFileDamage extends Error {
  constructor(
    message: string,
    readonly damage: Damage,
    readonly context: Record<string, string> = {},
    /** Set when the file's checksum file is the finding (unreadable, or the file changed since). */
    readonly digests?: DigestsState,
  ) {
    super(message);
  }
}

async function verifyVhdFile(
  point: BackupPoint,
  key: string,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<FileVerifyResult> {
  const opened = await openVhd(point.remote, key);
  if (opened instanceof VhdDirectoryReader) return verifyVhdDirectory(opened, onBytes, signal);
  const reader = opened;
  const file = reader.path;
  try {
    const state: DigestsState = await loadDigests(point.remote, key, reader);
    const footer = await footerCopyProblem(reader);
    if (footer) throw new VhdFileDamage(footer.message, footer.damage, footer.context);
    const blockBytes = bitmapSize(reader.header.blockSize) + reader.header.blockSize;
    const placed = [...reader.bat.entries()]
      .filter(([i, s]) => reader.hasBlock(i) && s !== undefined)
      .map(([index, sector]) => ({ index, at: sector * SECTOR }));
    placed.sort((a, b) => a.at - b.at);
    const metadataEnd = reader.header.tableOffset + Math.ceil((reader.header.maxTableEntries * 4) / SECTOR) * SECTOR;
    for (let i = 0; i < placed.length; i++) {
      const { index, at } = placed[i]!;
      const before = i === 0 ? metadataEnd : placed[i - 1]!.at + blockBytes;
      if (at < before) {
        throw new VhdFileDamage(
          `${file}: block ${index} at byte ${at} overlaps ${i === 0 ? 'the header and BAT' : `block ${placed[i - 1]!.index}`} (BAT damaged)`,
          { kind: 'bat', offset: reader.header.tableOffset + index * 4, file },
          { block: String(index) },
        );
      }
    }
    if (state.kind === 'changed' || state.kind === 'unreadable') {
      throw new VhdFileDamage(state.reason, { kind: 'checksum-format', file }, {}, state);
    }
    const digests = state.kind === 'current' ? state.digests : undefined;
    if (digests) {
      const metadata = await metadataDigestProblem(reader, digests);
      if (metadata) throw new VhdFileDamage(metadata.message, metadata.damage, metadata.context);
    }
    let read = 0;
    let lastReport = 0;
    for (const { index, at } of [...placed].sort((a, b) => a.index - b.index)) {
      signal?.throwIfAborted();
      const stored = (await reader.readBlock(index))!;
      if (digests && !digests.blockMatches(index, stored.bitmap, stored.data)) {
        throw new VhdFileDamage(
          `${file}: block ${index} (bytes ${at}–${at + blockBytes}) ${blockMismatch(file)}`,
          { kind: 'block', offset: at, file },
          { block: String(index), checksumFile: digestsPathOf(file) },
        );
      }
      read += blockBytes;
      if (read - lastReport >= 64 * 1024 * 1024) {
        lastReport = read;
        onBytes(read);
      }
    }
    const structureOnly =
      state.kind === 'current'
        ? undefined
        : state.kind === 'absent'
          ? (state.reason ?? 'no checksums recorded (written by Xen Orchestra or an older Sluice)')
          : state.reason;
    return { bytes: reader.fileSize, ...(structureOnly ? { structureOnly } : {}) };
  } finally {
    await reader.close();
  }
}

/**
 * A VHD directory: its footer, header and block table were checked on open; here every block the table names
 * is read and unfiltered (a missing or undecodable object, or one of the wrong length, is named). XO records
 * no checksums for directories, so this is a check of structure.
 */
async function verifyVhdDirectory(
  reader: VhdDirectoryReader,
  onBytes: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<FileVerifyResult> {
  let read = 0;
  let lastReport = 0;
  for (const index of reader.storedBlocks()) {
    signal?.throwIfAborted();
    await reader.readBlock(index);
    read += reader.storedBlockBytes;
    if (read - lastReport >= 64 * 1024 * 1024) {
      lastReport = read;
      onBytes(read);
    }
  }
  // Counted as the VHD file it stands for, as its size is shown (remote-vhd-files.ts storedVhdBytes).
  const metadata = 512 + 1024 + Math.ceil((reader.header.maxTableEntries * 4) / SECTOR) * SECTOR + 512;
  return {
    bytes: metadata + read,
    structureOnly: 'a VHD directory (Xen Orchestra records no checksums for its blocks)',
  };
}
