import { ALGORITHM_LABEL, ChunkDigest, displayChecksum, parseChecksumText, type XxhashApi } from '../chunk-digest.js';
import type { TarConsumer, TarEntry } from '../tar/tar-entry-parser.js';
import { XvaDiskChunks } from './xva-disk-chunks.js';
import { chunkEntryName, classifyXvaEntry, type ChecksumAlgorithm } from './xva-entry-name.js';
import { XvaVerifyError } from './xva-verify-error.js';

// What an XVA holds, checked entry by entry as the tar parser hands them over: ova.xml first and once, each
// disk chunk followed by its checksum entry and matching it. The tar framing is the parser's job.

const MiB = 1024 * 1024;
/** ova.xml lists every object of the export; even a big VM's stays far below this. */
const MAX_OVA_XML = 64 * MiB;
/** A checksum entry holds 16 or 40 hex digits; this leaves room for stray whitespace and no more. */
const MAX_CHECKSUM_ENTRY = 256;
const MAX_IGNORED_NAMES = 20;

/** What happens to the bytes of the entry being read. */
const Body = { Skip: 0, OvaXml: 1, Chunk: 2, Checksum: 3 } as const;
type Body = (typeof Body)[keyof typeof Body];

/** A data chunk read (or being read) whose checksum entry has not been checked yet. */
interface PendingChunk {
  name: string;
  ref: string;
  seq: number;
  offset: number;
  digest: ChunkDigest;
}

export class XvaContentRules implements TarConsumer {
  readonly disks = new XvaDiskChunks();
  ovaXml: string | undefined;
  /** Learnt from the first checksum entry; until then chunks are hashed both ways. */
  algorithm: ChecksumAlgorithm | undefined;
  ignoredEntries = 0;
  readonly ignoredEntryNames: string[] = [];

  private body: Body = Body.Skip;
  private ovaParts: Buffer[] = [];
  private pending: PendingChunk | undefined;
  private checksumAlgorithm: ChecksumAlgorithm = 'xxhash';
  private readonly checksumText = Buffer.alloc(MAX_CHECKSUM_ENTRY);
  private checksumFill = 0;

  constructor(private readonly xxh: XxhashApi) {}

  entryStart(entry: TarEntry): void {
    this.body = Body.Skip;
    switch (entry.type) {
      case 'file':
        this.beginFile(entry);
        break;
      case 'pax-global':
      case 'gnu-long-link':
        // Archive-wide attributes and link targets say nothing about the XVA's content.
        break;
      case 'directory':
      case 'other':
        if (this.pending) throw this.missingChecksum(this.pending, entry.offset, `entry ${entry.name}`);
        this.ignore(entry.name);
        break;
    }
  }

  entryData(slice: Buffer): void {
    switch (this.body) {
      case Body.Chunk:
        this.pending!.digest.update(slice);
        break;
      case Body.OvaXml:
        // Copied: the caller may reuse its buffers once update() returns.
        this.ovaParts.push(Buffer.from(slice));
        break;
      case Body.Checksum:
        slice.copy(this.checksumText, this.checksumFill);
        this.checksumFill += slice.length;
        break;
      case Body.Skip:
        break;
    }
  }

  entryEnd(entry: TarEntry): void {
    if (this.body === Body.OvaXml) this.endOvaXml(entry);
    else if (this.body === Body.Checksum) this.endChecksum(entry);
  }

  entriesEnd(offset: number): void {
    // The end of the archive: whatever was still expected is missing.
    if (this.pending) throw this.missingChecksum(this.pending, offset, 'the end-of-archive blocks');
  }

  /** The stream ended on an entry boundary at `offset`: what an XVA was still owed, before the tar framing is blamed. */
  checkStreamEnd(offset: number, betweenEntries: boolean): void {
    if (this.pending) throw this.missingChecksum(this.pending, offset, 'the end of the stream');
    if (betweenEntries && this.ovaXml === undefined) {
      throw new XvaVerifyError(
        'truncated',
        `The XVA stream ended at byte ${offset} before its ova.xml was complete: the export was cut short.`,
        { offset },
      );
    }
  }

  private beginFile({ name, size, offset: at }: TarEntry): void {
    const entry = classifyXvaEntry(name);
    const pending = this.pending;
    if (pending && !(entry.kind === 'checksum' && entry.ref === pending.ref && entry.seq === pending.seq)) {
      throw this.missingChecksum(pending, at, `entry ${name}`);
    }
    if (entry.kind === 'ova-xml') {
      this.beginOvaXml(name, size, at);
      return;
    }
    if (this.ovaXml === undefined) {
      throw new XvaVerifyError(
        'ova-xml',
        `The XVA does not start with ova.xml: its first entry is ${name} at byte ${at}. This is not an XVA, or its start is missing.`,
        { offset: at, entry: name },
      );
    }
    switch (entry.kind) {
      case 'chunk':
        this.disks.accept(name, entry.ref, entry.seq, size, at);
        this.pending = {
          name,
          ref: entry.ref,
          seq: entry.seq,
          offset: at,
          digest: new ChunkDigest(this.xxh, this.algorithm),
        };
        this.body = Body.Chunk;
        break;
      case 'checksum':
        if (!pending) {
          throw new XvaVerifyError(
            'orphan-checksum',
            `Checksum entry ${name} at byte ${at} does not follow its data chunk ${chunkEntryName(entry.ref, entry.seq)}: the chunk is missing.`,
            { offset: at, entry: name },
          );
        }
        this.checksumAlgorithm = entry.algorithm;
        if (size > MAX_CHECKSUM_ENTRY) {
          throw new XvaVerifyError(
            'checksum-format',
            `The entry at byte ${at}, checksum entry ${name}, claims ${size} bytes, far more than it can hold: its header is corrupt.`,
            { offset: at, entry: name },
          );
        }
        this.checksumFill = 0;
        this.body = Body.Checksum;
        break;
      case 'other':
        this.ignore(name);
        break;
    }
  }

  private beginOvaXml(name: string, size: number, at: number): void {
    if (this.ovaXml !== undefined || this.disks.count > 0) {
      throw new XvaVerifyError(
        'ova-xml',
        `The XVA has a second ova.xml at byte ${at}: two exports were joined or the stream is garbled.`,
        { offset: at, entry: name },
      );
    }
    if (size > MAX_OVA_XML) {
      throw new XvaVerifyError(
        'ova-xml',
        `ova.xml at byte ${at} claims ${size} bytes, more than the ${MAX_OVA_XML / MiB} MiB any real export needs: the header is corrupt.`,
        { offset: at, entry: name },
      );
    }
    this.body = Body.OvaXml;
  }

  private endOvaXml({ name, offset }: TarEntry): void {
    const bytes = Buffer.concat(this.ovaParts);
    this.ovaParts = [];
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new XvaVerifyError('ova-xml', `ova.xml at byte ${offset} is not UTF-8 text: it is corrupt.`, {
        offset,
        entry: name,
      });
    }
    // Not parsed here (that is the restore's job), but it must at least look like the XML-RPC value it is.
    if (!text.trimStart().startsWith('<')) {
      throw new XvaVerifyError('ova-xml', `ova.xml at byte ${offset} does not hold XML: it is corrupt.`, {
        offset,
        entry: name,
      });
    }
    this.ovaXml = text;
  }

  private endChecksum(entry: TarEntry): void {
    const pending = this.pending!;
    this.pending = undefined;
    const algorithm = this.checksumAlgorithm;
    const label = ALGORITHM_LABEL[algorithm];
    const where = { offset: pending.offset, entry: pending.name };
    const text = this.checksumText.subarray(0, this.checksumFill);
    const expected = parseChecksumText(algorithm, text);
    if (expected === undefined) {
      throw new XvaVerifyError(
        'checksum-format',
        `Checksum entry ${entry.name} at byte ${entry.offset} does not hold a ${label} checksum ("${text.toString('latin1', 0, Math.min(text.length, 48)).trim()}"): it is corrupt.`,
        { offset: entry.offset, entry: entry.name },
      );
    }
    const actual = pending.digest.digest(algorithm);
    if (actual === undefined) {
      throw new XvaVerifyError(
        'mixed-checksums',
        `Chunk ${pending.name} at byte ${pending.offset} has a ${label} checksum entry, but earlier chunks of this XVA had ${ALGORITHM_LABEL[this.algorithm!]} ones; a host writes only one kind, so the stream is garbled.`,
        where,
      );
    }
    if (actual !== expected) {
      throw new XvaVerifyError(
        'chunk-checksum',
        `Chunk ${pending.name} at byte ${pending.offset} is corrupt: its data has ${label} ${displayChecksum(algorithm, actual)} but its checksum entry (at byte ${entry.offset}) says ${displayChecksum(algorithm, expected)}.`,
        where,
      );
    }
    this.algorithm ??= algorithm;
  }

  private missingChecksum(pending: PendingChunk, at: number, next: string): XvaVerifyError {
    return new XvaVerifyError(
      'missing-checksum',
      `Chunk ${pending.name} at byte ${pending.offset} is not followed by its checksum entry: ${next} comes next, at byte ${at}. The chunk cannot be checked and the stream is garbled.`,
      { offset: at, entry: pending.name },
    );
  }

  private ignore(name: string): void {
    this.ignoredEntries++;
    if (this.ignoredEntryNames.length < MAX_IGNORED_NAMES) this.ignoredEntryNames.push(name);
  }
}
