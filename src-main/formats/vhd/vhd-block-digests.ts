import xxhash from 'xxhash-wasm';
import { z } from 'zod';
import type { Damage } from '../../errors/damage.js';
import type { XxhashApi } from '../chunk-digest.js';
import type { VhdFileReader } from './vhd-file-reader.js';
import { notAnOutsideMerge } from './vhd-outside-merge.js';
import { batSize, DiskType, encodeBat, type VhdFooter, type VhdHeader } from './vhd-structures.js';

// A VHD has checksums on its footer and header only: a bit flipped in a data block, the BAT or the parent
// locators goes unnoticed by any reader. So when Sluice writes a VHD it also records, next to it in
// `<name>.vhd.checksum.json`, an XXH64 of the metadata region (footer copy, header, locators, BAT) and of
// every stored block (sector bitmap + data, as on disk). `verify` and restores compare against it and can
// name the block that changed. Xen Orchestra ignores the extra file.
//
// Whether the digests still describe the file is decided from its content, never from its mtime (a copy
// without `-p` changes every mtime, and a flipped bit changes none): the file records the VHD's identity when
// it was written (length, footer uuid, parent uuid, a digest of the BAT). A file whose uuid or parent differs
// whose parent link changed the way a merge by another tool changes it (Xen Orchestra's merge renames the
// parent over the child: vhd-outside-merge.ts has the rule) holds stale checksums, and its blocks are checked
// by structure only. Another uuid under the name, a link changed in any other way, and the same VHD with
// another length or BAT are damage. A checksum file that cannot be read is a finding too, never a
// reason to check less.
//
// Version 1 files (before the identity was recorded) hold the length and mtime: the mtime is ignored, and
// the length plus the metadata digest (which covers the footer copy and the BAT) stand for the identity. When
// they no longer match, version 1 cannot tell a merge by another tool from damage, so it is reported as a
// change to look at, not skipped.
//
// A retention merge carries the digests over to the merged file (repository/merge-digests.ts). When it cannot
// (the parent had none), it writes a "none" record instead, with why: `verify` then says that plainly rather
// than guessing the file came from Xen Orchestra.

export const DIGESTS_SUFFIX = '.checksum.json';

const hex64 = z.string().regex(/^[0-9a-f]{16}$/);
const digestFields = {
  algorithm: z.literal('xxh64'),
  blockSize: z.number().int().positive(),
  /** Bytes [0, metadataBytes) of the file: footer copy, dynamic header, locator data, BAT. */
  metadataBytes: z.number().int().positive(),
  metadata: hex64,
  /** One 8-byte digest per BAT entry (all zero for an absent block), base64. */
  blocks: z.string(),
};
const identitySchema = z.object({
  size: z.number().int().nonnegative(),
  uuid: z.string().max(36),
  /** The header's parent uuid for a differencing file, null for a full one. */
  parentUuid: z.string().max(36).nullable(),
  /** XXH64 of the BAT entries. */
  bat: hex64,
});
export type VhdIdentity = z.infer<typeof identitySchema>;
const digestsV2Schema = z.object({ version: z.literal(2), identity: identitySchema, ...digestFields });
const digestsV1Schema = z.object({ version: z.literal(1), fileSize: z.number(), mtimeMs: z.number(), ...digestFields });
export type VhdDigestsFile = z.infer<typeof digestsV2Schema> | z.infer<typeof digestsV1Schema>;

/** The record of a VHD that has no digests, and why (e.g. a merge of files that had none). */
const noDigestsSchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  algorithm: z.literal('none'),
  reason: z.string().max(4000),
});
export type DigestsRecord = VhdDigestsFile | z.infer<typeof noDigestsSchema>;

export function noDigestsRecord(reason: string): string {
  return JSON.stringify({ version: 2, algorithm: 'none', reason } satisfies z.infer<typeof noDigestsSchema>);
}

/** The most a checksum file may hold: one digest per BAT entry, base64, plus the rest of the record. */
export function maxDigestsBytes(maxTableEntries: number): number {
  return Math.ceil((maxTableEntries * 8) / 3) * 4 + 8192;
}
/** For a file read without its VHD at hand: the largest VHD (2040 GiB) in 2 MiB blocks. */
export const DEFAULT_MAX_DIGESTS_BYTES = maxDigestsBytes(1_044_480);

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

  toFile(metadata: Buffer, identity: VhdIdentity): VhdDigestsFile {
    return {
      version: 2,
      algorithm: 'xxh64',
      identity,
      blockSize: this.blockSize,
      metadataBytes: metadata.length,
      metadata: hex(this.xxh.h64Raw(metadata)),
      blocks: this.blocks.toString('base64'),
    };
  }
}

function hex(digest: bigint): string {
  return digest.toString(16).padStart(16, '0');
}

/** What a VHD's footer, header and BAT say it is, as a reader opened it. */
export interface VhdShape {
  fileSize: number;
  footer: VhdFooter;
  header: VhdHeader;
  bat: Uint32Array;
}

export function identityOf(xxh: XxhashApi, vhd: VhdShape): VhdIdentity {
  return {
    size: vhd.fileSize,
    uuid: vhd.footer.uuid,
    parentUuid: vhd.footer.diskType === DiskType.Differencing ? vhd.header.parentUuid : null,
    bat: hex(xxh.h64Raw(encodeBat(vhd.bat).subarray(0, vhd.bat.length * 4))),
  };
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
  /** No checksum file, or a "none" record saying why. */
  | { kind: 'absent'; reason?: string }
  /** Another tool merged the chain into this name: the checksums are stale; blocks are checked by structure only. */
  | { kind: 'merged'; reason: string }
  /** The same VHD with another length or BAT (or a version 1 record that no longer matches): a finding. */
  | { kind: 'changed'; reason: string; damage: Damage }
  /** The checksum file exists but cannot be read or is not one: a finding, naming it. */
  | { kind: 'unreadable'; reason: string; file: string }
  | { kind: 'current'; digests: VhdDigests };

/**
 * A digests file as it is, without asking whether it still describes a VHD. The caller reads it (from its
 * remote, at most maxDigestsBytes of it: a checksum file is small, and a huge one is damage); `file` names it.
 */
export function parseDigestsRecord(file: string, text: string): DigestsRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  const obj = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const schema =
    obj['algorithm'] === 'none'
      ? noDigestsSchema
      : obj['version'] === 2
        ? digestsV2Schema
        : obj['version'] === 1
          ? digestsV1Schema
          : undefined;
  if (!schema) throw new Error(`${file} is not a checksum file of a version Sluice knows`);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file} is not a valid checksum file (${issue.path.join('.') || 'record'}: ${issue.message})`);
  }
  return parsed.data;
}

type Comparison =
  { kind: 'same' } | { kind: 'merged'; reason: string } | { kind: 'changed'; reason: string; damage: Damage };

/** Whether a record still describes a VHD, from its content (see the top of this file), never from its mtime. */
export async function compareWithFile(record: VhdDigestsFile, vhd: ReadableVhd): Promise<Comparison> {
  const xxh = await xxhashApi();
  const file = vhd.path;
  if (record.version === 1) {
    const head = record.metadataBytes <= vhd.fileSize ? await vhd.readRaw(0, record.metadataBytes) : undefined;
    if (record.fileSize === vhd.fileSize && head && hex(xxh.h64Raw(head)) === record.metadata) return { kind: 'same' };
    return {
      kind: 'changed',
      reason: `${file} changed since its checksums were recorded (${record.fileSize === vhd.fileSize ? 'its footer copy, header or BAT' : `its length, ${record.fileSize} then, ${vhd.fileSize} now`}); its checksum file is of an older format that cannot tell a rewrite by another tool (e.g. a Xen Orchestra merge) from damage`,
      damage: { kind: 'metadata', offset: 0, file },
    };
  }
  const now = identityOf(xxh, vhd);
  const was = record.identity;
  const link = (id: VhdIdentity) => `VHD ${id.uuid}, ${id.parentUuid ? `child of ${id.parentUuid}` : 'a full VHD'}`;
  const sidecar = digestsPathOf(file);
  if (now.uuid !== was.uuid || now.parentUuid !== was.parentUuid || now.bat !== was.bat) {
    // The metadata digest covers the footer copy (uuid), the header (parent) and the BAT: when it still
    // matches the file, the VHD is the one Sluice wrote and the identity in the checksum file is what
    // changed. Taking that for a rewrite by another tool would switch the block checks off.
    const head = record.metadataBytes <= vhd.fileSize ? await vhd.readRaw(0, record.metadataBytes) : undefined;
    if (head && hex(xxh.h64Raw(head)) === record.metadata)
      return {
        kind: 'changed',
        reason: `the checksum file ${sidecar} is damaged: it describes ${link(was)}, but ${file} is ${link(now)}, and its footer, header and BAT still match the checksum recorded for them`,
        damage: { kind: 'checksum-format', file: sidecar },
      };
  }
  if (now.uuid !== was.uuid || now.parentUuid !== was.parentUuid) {
    const change = { uuid: { was: was.uuid, now: now.uuid }, parent: { was: was.parentUuid, now: now.parentUuid } };
    const not = notAnOutsideMerge(change, Buffer.from(record.blocks, 'base64'), vhd.bat);
    if (not)
      return {
        kind: 'changed',
        reason: `${file} is ${link(now)}, but its checksum file ${sidecar} records ${link(was)}, and no merge explains the change: ${not}`,
        damage: { kind: 'metadata', offset: 0, file },
      };
    return {
      kind: 'merged',
      reason: `${file} was merged by another tool (most likely Xen Orchestra, which merges a chain into the older file and gives it the newer one's name): it is now ${link(now)}, its checksum file ${sidecar} still describes it as Sluice wrote it (${link(was)}), and it still holds every block recorded there. The checksums are stale, not a sign of damage: its blocks were checked by structure only; \`sluice check --repair\` retires the stale checksum file`,
    };
  }
  if (now.size !== was.size) {
    return {
      kind: 'changed',
      reason: `${file} is ${now.size} bytes, but Sluice wrote ${was.size} bytes of this VHD (${now.uuid}), as its checksum file ${sidecar} records: the file was cut short or extended since`,
      damage: { kind: 'size', offset: Math.min(now.size, was.size), file },
    };
  }
  if (now.bat !== was.bat) {
    const at = vhd.header.tableOffset;
    return {
      kind: 'changed',
      reason: `${file}: the block table (BAT, bytes ${at}–${at + batSize(vhd.header.maxTableEntries)}) changed since Sluice wrote this VHD (${now.uuid}, same length)`,
      damage: { kind: 'bat', offset: at, file },
    };
  }
  return { kind: 'same' };
}

/** A VHD opened by a reader, with what a comparison reads of it. */
export type ReadableVhd = VhdShape & { path: string; readRaw(position: number, length: number): Promise<Buffer> };

/**
 * Whether the digests recorded next to a VHD still describe it. `record` is the checksum file as read (undefined
 * when there is none, an Error when it could not be read or parsed); `sidecar` names it.
 */
export async function digestsStateOf(
  vhd: ReadableVhd,
  sidecar: string,
  record: DigestsRecord | undefined | Error,
): Promise<DigestsState> {
  if (record instanceof Error) return { kind: 'unreadable', reason: record.message, file: sidecar };
  if (!record) return { kind: 'absent' };
  if (record.algorithm === 'none') return { kind: 'absent', reason: record.reason };
  const comparison = await compareWithFile(record, vhd);
  if (comparison.kind !== 'same') return comparison;
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
    return hex(this.xxh.h64Raw(metadata)) === this.file.metadata;
  }

  /** Whether a block read from the file is the one that was written; false when none was recorded for it. */
  blockMatches(index: number, bitmap: Buffer, data: Buffer): boolean {
    if ((index + 1) * 8 > this.table.length) return false;
    const expected = this.table.readBigUInt64BE(index * 8);
    return expected !== 0n && blockDigest(this.xxh, bitmap, data, this.file.blockSize) === expected;
  }
}

/** The digests file of a finished VHD (read through `vhd`, which is closed), wherever it is stored. */
export async function digestsFileText(
  vhd: VhdFileReader,
  collector: VhdDigestCollector,
  metadata: Buffer,
): Promise<string> {
  let identity: VhdIdentity;
  try {
    identity = identityOf(await xxhashApi(), vhd);
  } finally {
    await vhd.close();
  }
  return JSON.stringify(collector.toFile(metadata, identity));
}
