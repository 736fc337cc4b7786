import { promises as fs } from 'node:fs';
import xxhash from 'xxhash-wasm';
import { z } from 'zod';
import type { XxhashApi } from '../chunk-digest.js';

// A VHD has checksums on its footer and header only: a bit flipped in a data block, the BAT or the parent
// locators goes unnoticed by any reader. So when Sluice writes a VHD it also records, next to it in
// `<name>.vhd.checksum.json`, an XXH64 of the metadata region (footer copy, header, locators, BAT) and of
// every stored block (sector bitmap + data, as on disk). `verify` and restores compare against it and can
// name the block that changed. The file also records the VHD's size and modification time: a VHD rewritten
// since (e.g. merged by retention) no longer matches its digests, which is then reported as "out of date",
// not as damage. Xen Orchestra ignores the extra file.
//
// A retention merge carries the digests over to the merged file (repository/merge-digests.ts). When it cannot
// (the parent had none), it writes a "none" record instead, with why: `verify` then says that plainly rather
// than guessing the file came from Xen Orchestra.

export const DIGESTS_SUFFIX = '.checksum.json';

const digestsFileSchema = z.object({
  version: z.literal(1),
  algorithm: z.literal('xxh64'),
  /** The VHD's length and mtime (ms) when the digests were taken. */
  fileSize: z.number(),
  mtimeMs: z.number(),
  blockSize: z.number(),
  /** Bytes [0, metadataBytes) of the file: footer copy, dynamic header, locator data, BAT. */
  metadataBytes: z.number(),
  metadata: z.string(),
  /** One 8-byte digest per BAT entry (all zero for an absent block), base64. */
  blocks: z.string(),
});
export type VhdDigestsFile = z.infer<typeof digestsFileSchema>;

/** The record of a VHD that has no digests, and why (e.g. a merge of files that had none). */
const noDigestsSchema = z.object({ version: z.literal(1), algorithm: z.literal('none'), reason: z.string() });
const anyDigestsSchema = z.union([digestsFileSchema, noDigestsSchema]);
export type DigestsRecord = z.infer<typeof anyDigestsSchema>;

export function noDigestsRecord(reason: string): string {
  return JSON.stringify({ version: 1, algorithm: 'none', reason } satisfies z.infer<typeof noDigestsSchema>);
}

let api: Promise<XxhashApi> | undefined;
export function xxhashApi(): Promise<XxhashApi> {
  api ??= xxhash();
  return api;
}

export function digestsPathOf(vhdPath: string): string {
  return `${vhdPath}${DIGESTS_SUFFIX}`;
}

/** Digests of the blocks and metadata of one VHD, gathered while it is written. */
export class VhdDigestCollector {
  private readonly blocks: Buffer;

  private constructor(
    private readonly xxh: XxhashApi,
    private readonly blockSize: number,
    entries: number,
  ) {
    this.blocks = Buffer.alloc(entries * 8);
  }

  static async create(blockSize: number, entries: number): Promise<VhdDigestCollector> {
    return new VhdDigestCollector(await xxhashApi(), blockSize, entries);
  }

  /** Starts from digests recorded for a file (a merge's parent): its blocks keep theirs unless added again. */
  static async fromRecorded(file: VhdDigestsFile, entries: number): Promise<VhdDigestCollector> {
    const table = Buffer.from(file.blocks, 'base64');
    const c = new VhdDigestCollector(await xxhashApi(), file.blockSize, Math.max(entries, table.length / 8));
    table.copy(c.blocks);
    return c;
  }

  addBlock(index: number, bitmap: Buffer, data: Buffer): void {
    this.blocks.writeBigUInt64BE(blockDigest(this.xxh, bitmap, data, this.blockSize), index * 8);
  }

  toFile(metadata: Buffer, stat: { size: number; mtimeMs: number }): VhdDigestsFile {
    return {
      version: 1,
      algorithm: 'xxh64',
      fileSize: stat.size,
      mtimeMs: Math.round(stat.mtimeMs),
      blockSize: this.blockSize,
      metadataBytes: metadata.length,
      metadata: this.xxh.h64Raw(metadata).toString(16).padStart(16, '0'),
      blocks: this.blocks.toString('base64'),
    };
  }
}

/** A block as stored: bitmap, data, and zeros up to the block size (the writer pads a short last block). */
export function blockDigest(xxh: XxhashApi, bitmap: Buffer, data: Buffer, blockSize: number): bigint {
  const h = xxh.create64(0n);
  h.update(bitmap);
  h.update(data);
  if (data.length < blockSize) h.update(Buffer.alloc(blockSize - data.length));
  return h.digest();
}

export type DigestsState =
  | { kind: 'absent'; reason?: string }
  | { kind: 'stale'; reason: string }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'current'; digests: VhdDigests };

/** Reads a digests file as it is, without asking whether it still describes a VHD; undefined if there is none. */
export async function readDigestsRecord(file: string): Promise<DigestsRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return anyDigestsSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new Error(`${file} is not a digests file: ${(err as Error).message.slice(0, 200)}`);
  }
}

/** Whether digests were taken of the file as it is now (same length and modification time). */
export function describesFile(file: VhdDigestsFile, st: { size: number; mtimeMs: number }): boolean {
  return st.size === file.fileSize && Math.round(st.mtimeMs) === file.mtimeMs;
}

/** Reads the digests recorded next to a VHD and says whether they still describe the file. */
export async function loadDigests(vhdPath: string): Promise<DigestsState> {
  let record: DigestsRecord | undefined;
  try {
    record = await readDigestsRecord(digestsPathOf(vhdPath));
  } catch (err) {
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  if (!record) return { kind: 'absent' };
  if (record.algorithm === 'none') return { kind: 'absent', reason: record.reason };
  if (!describesFile(record, await fs.stat(vhdPath))) {
    return {
      kind: 'stale',
      reason: `${vhdPath} was rewritten after its checksums were recorded (by another tool, e.g. a Xen Orchestra merge)`,
    };
  }
  return { kind: 'current', digests: new VhdDigests(await xxhashApi(), record) };
}

export class VhdDigests {
  private readonly table: Buffer;

  constructor(
    private readonly xxh: XxhashApi,
    readonly file: VhdDigestsFile,
  ) {
    this.table = Buffer.from(file.blocks, 'base64');
  }

  metadataMatches(metadata: Buffer): boolean {
    return this.xxh.h64Raw(metadata).toString(16).padStart(16, '0') === this.file.metadata;
  }

  /** Whether a block read from the file is the one that was written; false when none was recorded for it. */
  blockMatches(index: number, bitmap: Buffer, data: Buffer): boolean {
    if ((index + 1) * 8 > this.table.length) return false;
    const expected = this.table.readBigUInt64BE(index * 8);
    return expected !== 0n && blockDigest(this.xxh, bitmap, data, this.file.blockSize) === expected;
  }
}

export async function writeDigestsFile(
  vhdPath: string,
  collector: VhdDigestCollector,
  metadata: Buffer,
  write: (path: string, text: string) => Promise<void>,
): Promise<void> {
  const st = await fs.stat(vhdPath);
  await write(digestsPathOf(vhdPath), JSON.stringify(collector.toFile(metadata, st)));
}
