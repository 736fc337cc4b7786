import xxhash from 'xxhash-wasm';
import { ALGORITHM_LABEL, ChunkDigest, displayChecksum, parseChecksumText, type XxhashApi } from '../chunk-digest.js';
import {
  ExtendedHeaderError,
  parseGnuLongName,
  parsePaxHeader,
  type HeaderOverride,
} from '../tar/tar-extended-header.js';
import {
  isZeroBlock,
  parseTarHeader,
  TAR_BLOCK,
  TarHeaderError,
  tarPadding,
  type TarHeader,
} from '../tar/tar-v7-header.js';
import { chunkEntryName, classifyXvaEntry, type ChecksumAlgorithm } from './xva-entry-name.js';
import { XvaVerifyError } from './xva-verify-error.js';

export { XvaVerifyError, type XvaDamage } from './xva-verify-error.js';
export type { ChecksumAlgorithm } from './xva-entry-name.js';

// Checks an XVA (the uncompressed tar of GET /export) as it streams past, without holding it: tar framing,
// ova.xml first, each disk chunk followed by its checksum entry and matching it, chunk numbers going up, and
// the end-of-archive blocks. A backup tees every byte through update(); `verify` re-reads a stored file.

export interface XvaDiskSummary {
  /** The VDI's id in ova.xml, e.g. "Ref:3". */
  ref: string;
  /** Data chunks (keepalives, which carry no data, not included). */
  chunks: number;
  /** Zero-length chunks the host sent to keep the connection alive. */
  keepalives: number;
  /** Sum of the chunk lengths. */
  dataBytes: number;
  /** Disk offset after the last chunk, counting the all-zero chunks the host left out. */
  lastOffset: number;
}

export interface XvaSummary {
  ovaXml: string;
  /** In the order they appear in the stream. */
  disks: XvaDiskSummary[];
  totalBytes: number;
  /** Which checksum entries the host wrote; undefined when the XVA has no chunks. */
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  /** Entries other than ova.xml, chunks and checksums (directories, stray files), skipped unchecked. */
  ignoredEntries: number;
  /** The first few of their names, for a report. */
  ignoredEntryNames: string[];
}

const MiB = 1024 * 1024;
/** xapi's chunk size, which is also the largest chunk accepted. */
const XVA_CHUNK_SIZE = MiB;
/** ova.xml lists every object of the export; even a big VM's stays far below this. */
const MAX_OVA_XML = 64 * MiB;
/** A checksum entry holds 16 or 40 hex digits; this leaves room for stray whitespace and no more. */
const MAX_CHECKSUM_ENTRY = 256;
/** pax records and GNU long names for a few short names. */
const MAX_EXTENDED_HEADER = 64 * 1024;
/** Tar writers may pad the archive to a whole record of 20 blocks after the end blocks. */
const TAR_RECORD = 20 * TAR_BLOCK;
const MAX_IGNORED_NAMES = 20;

const Phase = { Header: 0, Body: 1, Padding: 2, Trailer: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** What happens to the bytes of the entry being read. */
const Body = { Skip: 0, OvaXml: 1, Chunk: 2, Checksum: 3, PaxHeader: 4, GnuLongName: 5 } as const;
type Body = (typeof Body)[keyof typeof Body];

interface DiskState {
  ref: string;
  chunks: number;
  keepalives: number;
  dataBytes: number;
  lastSeq: number;
  /** Disk offset after the last chunk. */
  end: number;
  /** Length of the disk's first data chunk: the step of the chunk counter. */
  chunkSize: number | undefined;
  /** A chunk shorter than chunkSize: only the last may be, so no data chunk may follow it. */
  shortChunk: string | undefined;
}

/** A data chunk read (or being read) whose checksum entry has not been checked yet. */
interface PendingChunk {
  name: string;
  ref: string;
  seq: number;
  offset: number;
  digest: ChunkDigest;
}

export class XvaStreamVerifier {
  private base = 0;
  private phase: Phase = Phase.Header;
  private failure: XvaVerifyError | undefined;

  // Header assembly, for headers split across update() calls.
  private readonly headerBlock = Buffer.alloc(TAR_BLOCK);
  private headerFill = 0;
  private zeroBlocks = 0;
  private trailerLimit = 0;

  // The entry being read.
  private entryName = '';
  private entryOffset = 0;
  private remaining = 0;
  private padding = 0;
  private body: Body = Body.Skip;
  private checksumAlgorithm: ChecksumAlgorithm = 'xxhash';
  /** Small bodies (checksums, extended headers) are kept whole; the buffer is sized per entry. */
  private small = Buffer.alloc(0);
  private smallFill = 0;
  private override: HeaderOverride | undefined;

  private ovaParts: Buffer[] = [];
  private ovaXml: string | undefined;
  private pending: PendingChunk | undefined;
  private readonly disks = new Map<string, DiskState>();
  /** Learnt from the first checksum entry; until then chunks are hashed both ways. */
  private algorithm: ChecksumAlgorithm | undefined;
  private ignoredEntries = 0;
  private readonly ignoredEntryNames: string[] = [];

  private constructor(private readonly xxh: XxhashApi) {}

  static async create(): Promise<XvaStreamVerifier> {
    return new XvaStreamVerifier(await xxhash());
  }

  /** Bytes of the stream checked so far (a piece that turned out damaged is not counted). */
  get bytesSeen(): number {
    return this.base;
  }

  /** Checks the next piece of the stream; throws XvaVerifyError at the first damage, and again on every later call. */
  update(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      if (err instanceof XvaVerifyError) this.failure = err;
      throw err;
    }
  }

  /** Declares the stream complete: throws XvaVerifyError if it ended before the archive did. */
  finish(): XvaSummary {
    if (this.failure) throw this.failure;
    try {
      this.checkComplete();
    } catch (err) {
      if (err instanceof XvaVerifyError) this.failure = err;
      throw err;
    }
    return {
      ovaXml: this.ovaXml!,
      disks: [...this.disks.values()].map((d) => ({
        ref: d.ref,
        chunks: d.chunks,
        keepalives: d.keepalives,
        dataBytes: d.dataBytes,
        lastOffset: d.end,
      })),
      totalBytes: this.base,
      checksumAlgorithm: this.algorithm,
      ignoredEntries: this.ignoredEntries,
      ignoredEntryNames: [...this.ignoredEntryNames],
    };
  }

  private consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.phase) {
        case Phase.Header:
          pos = this.readHeader(chunk, pos);
          break;
        case Phase.Body:
          pos = this.readBody(chunk, pos);
          break;
        case Phase.Padding:
          pos = this.readPadding(chunk, pos);
          break;
        case Phase.Trailer:
          pos = this.readTrailer(chunk, pos);
          break;
      }
    }
    this.base += chunk.length;
  }

  // ---- tar framing ----

  private readHeader(chunk: Buffer, pos: number): number {
    const at = this.base + pos - this.headerFill;
    let block: Buffer;
    if (this.headerFill === 0 && chunk.length - pos >= TAR_BLOCK) {
      // The usual case: the whole header is in this piece; read it in place.
      block = chunk.subarray(pos, pos + TAR_BLOCK);
      pos += TAR_BLOCK;
    } else {
      const n = Math.min(TAR_BLOCK - this.headerFill, chunk.length - pos);
      chunk.copy(this.headerBlock, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill < TAR_BLOCK) return pos;
      this.headerFill = 0;
      block = this.headerBlock;
    }
    this.onHeaderBlock(block, at);
    return pos;
  }

  private onHeaderBlock(block: Buffer, at: number): void {
    if (isZeroBlock(block)) {
      this.onZeroBlock(at);
      return;
    }
    if (this.zeroBlocks > 0) {
      throw new XvaVerifyError(
        'tar-header',
        `The XVA has a lone zero block at byte ${at - TAR_BLOCK} with more entries after it at byte ${at}: an archive ends with two zero blocks, so the data between was lost or overwritten.`,
        { offset: at - TAR_BLOCK },
      );
    }
    let header: TarHeader;
    try {
      header = parseTarHeader(block);
    } catch (err) {
      if (!(err instanceof TarHeaderError)) throw err;
      // The name is worth reporting only when it still reads as an XVA entry; garbage names only add noise.
      const named = classifyXvaEntry(err.claimedName).kind !== 'other';
      const claim = named ? ` (it claims to be "${err.claimedName}")` : '';
      throw new XvaVerifyError(
        'tar-header',
        `The tar header at byte ${at} is damaged${claim}: ${err.message}. The stream is corrupt from there on.`,
        {
          offset: at,
          ...(named ? { entry: err.claimedName } : {}),
        },
      );
    }
    if (this.override && header.type !== 'pax-header' && header.type !== 'gnu-long-name') {
      header = { ...header, ...this.override };
      this.override = undefined;
    }
    this.beginEntry(header, at);
  }

  private onZeroBlock(at: number): void {
    if (this.zeroBlocks === 0) {
      // The end of the archive: whatever was still expected is missing.
      if (this.pending) throw this.missingChecksum(this.pending, at, 'the end-of-archive blocks');
      if (this.override) {
        throw new XvaVerifyError(
          'extended-header',
          `The extended header at byte ${this.entryOffset} is not followed by the entry it describes: the archive ends at byte ${at}.`,
          {
            offset: this.entryOffset,
          },
        );
      }
      this.zeroBlocks = 1;
      return;
    }
    this.zeroBlocks = 2;
    this.phase = Phase.Trailer;
    const end = at + TAR_BLOCK;
    this.trailerLimit = Math.ceil(end / TAR_RECORD) * TAR_RECORD;
  }

  private beginEntry(header: TarHeader, at: number): void {
    this.entryName = header.name;
    this.entryOffset = at;
    this.remaining = header.size;
    this.padding = tarPadding(header.size);
    this.body = Body.Skip;
    switch (header.type) {
      case 'file':
        this.beginFile(header.name, header.size, at);
        break;
      case 'pax-header':
        this.beginSmallBody(
          Body.PaxHeader,
          header.size,
          MAX_EXTENDED_HEADER,
          'extended-header',
          'a pax extended header',
        );
        break;
      case 'gnu-long-name':
        this.beginSmallBody(Body.GnuLongName, header.size, MAX_EXTENDED_HEADER, 'extended-header', 'a GNU long name');
        break;
      case 'pax-global':
      case 'gnu-long-link':
        // Archive-wide attributes and link targets say nothing about the XVA's content.
        break;
      case 'directory':
      case 'other':
        this.expectNoPendingChunk(header.name, at);
        this.ignore(header.name);
        break;
    }
    this.phase = Phase.Body;
    if (this.remaining === 0) this.endBody();
  }

  private readBody(chunk: Buffer, pos: number): number {
    const n = Math.min(this.remaining, chunk.length - pos);
    const piece = chunk.subarray(pos, pos + n);
    switch (this.body) {
      case Body.Chunk:
        this.pending!.digest.update(piece);
        break;
      case Body.OvaXml:
        // Copied: the caller may reuse its buffers once update() returns.
        this.ovaParts.push(Buffer.from(piece));
        break;
      case Body.Checksum:
      case Body.PaxHeader:
      case Body.GnuLongName:
        piece.copy(this.small, this.smallFill);
        this.smallFill += n;
        break;
      case Body.Skip:
        break;
    }
    this.remaining -= n;
    if (this.remaining === 0) this.endBody();
    return pos + n;
  }

  private endBody(): void {
    switch (this.body) {
      case Body.OvaXml:
        this.endOvaXml();
        break;
      case Body.Checksum:
        this.endChecksum();
        break;
      case Body.PaxHeader:
      case Body.GnuLongName:
        this.endExtendedHeader();
        break;
      case Body.Chunk:
      case Body.Skip:
        break;
    }
    this.phase = this.padding > 0 ? Phase.Padding : Phase.Header;
  }

  private readPadding(chunk: Buffer, pos: number): number {
    const n = Math.min(this.padding, chunk.length - pos);
    // xapi (and every common tar writer) pads with zeros; anything else means bytes landed where they should not.
    for (let i = pos; i < pos + n; i++) {
      if (chunk[i] !== 0) {
        const at = this.base + i;
        throw new XvaVerifyError(
          'padding',
          `The padding after entry ${this.entryName} has a non-zero byte at byte ${at}: the stream is corrupt or misaligned there.`,
          {
            offset: at,
            entry: this.entryName,
          },
        );
      }
    }
    this.padding -= n;
    if (this.padding === 0) this.phase = Phase.Header;
    return pos + n;
  }

  private readTrailer(chunk: Buffer, pos: number): number {
    for (let i = pos; i < chunk.length; i++) {
      const at = this.base + i;
      if (chunk[i] !== 0) {
        throw new XvaVerifyError(
          'trailing-data',
          `The XVA has data after its end-of-archive blocks, at byte ${at}: this is not a single complete XVA.`,
          { offset: at },
        );
      }
      if (at >= this.trailerLimit) {
        throw new XvaVerifyError(
          'trailing-data',
          `The XVA goes on with zero bytes past byte ${this.trailerLimit}, more than the padding of a tar record after its end-of-archive blocks.`,
          { offset: at },
        );
      }
    }
    return chunk.length;
  }

  // ---- XVA content ----

  private beginFile(name: string, size: number, at: number): void {
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
        {
          offset: at,
          entry: name,
        },
      );
    }
    switch (entry.kind) {
      case 'chunk':
        this.beginChunk(name, entry.ref, entry.seq, size, at);
        break;
      case 'checksum':
        if (!pending) {
          throw new XvaVerifyError(
            'orphan-checksum',
            `Checksum entry ${name} at byte ${at} does not follow its data chunk ${chunkEntryName(entry.ref, entry.seq)}: the chunk is missing.`,
            {
              offset: at,
              entry: name,
            },
          );
        }
        this.checksumAlgorithm = entry.algorithm;
        this.beginSmallBody(Body.Checksum, size, MAX_CHECKSUM_ENTRY, 'checksum-format', `checksum entry ${name}`);
        break;
      case 'other':
        this.ignore(name);
        break;
    }
  }

  private beginOvaXml(name: string, size: number, at: number): void {
    if (this.ovaXml !== undefined || this.disks.size > 0) {
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
        {
          offset: at,
          entry: name,
        },
      );
    }
    this.body = Body.OvaXml;
  }

  private endOvaXml(): void {
    const bytes = Buffer.concat(this.ovaParts);
    this.ovaParts = [];
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new XvaVerifyError('ova-xml', `ova.xml at byte ${this.entryOffset} is not UTF-8 text: it is corrupt.`, {
        offset: this.entryOffset,
        entry: this.entryName,
      });
    }
    // Not parsed here (that is the restore's job), but it must at least look like the XML-RPC value it is.
    if (!text.trimStart().startsWith('<')) {
      throw new XvaVerifyError('ova-xml', `ova.xml at byte ${this.entryOffset} does not hold XML: it is corrupt.`, {
        offset: this.entryOffset,
        entry: this.entryName,
      });
    }
    this.ovaXml = text;
  }

  private beginChunk(name: string, ref: string, seq: number, size: number, at: number): void {
    if (size > XVA_CHUNK_SIZE) {
      throw new XvaVerifyError(
        'chunk-size',
        `Chunk ${name} at byte ${at} claims ${size} bytes; XVA chunks are at most ${XVA_CHUNK_SIZE} bytes, so its header is corrupt.`,
        {
          offset: at,
          entry: name,
        },
      );
    }
    const disk = this.disk(ref);
    if (seq <= disk.lastSeq) {
      throw new XvaVerifyError(
        'chunk-order',
        `Chunk ${name} at byte ${at} comes after chunk ${chunkEntryName(ref, disk.lastSeq)}: chunk numbers must go up, so the stream is out of order or garbled.`,
        { offset: at, entry: name },
      );
    }
    // Every number skipped is an all-zero chunk the host left out; a keepalive takes a number but holds nothing.
    const skipped = seq - disk.lastSeq - 1;
    if (size > 0) {
      if (disk.shortChunk !== undefined) {
        throw new XvaVerifyError(
          'chunk-size',
          `Chunk ${name} at byte ${at} follows the short chunk ${disk.shortChunk}: only a disk's last chunk may be shorter than ${disk.chunkSize} bytes.`,
          { offset: at, entry: name },
        );
      }
      const chunkSize = (disk.chunkSize ??= size);
      if (size > chunkSize) {
        throw new XvaVerifyError(
          'chunk-size',
          `Chunk ${name} at byte ${at} holds ${size} bytes, more than the ${chunkSize} bytes of the disk's first chunk.`,
          {
            offset: at,
            entry: name,
          },
        );
      }
      if (size < chunkSize) disk.shortChunk = name;
      disk.end += skipped * chunkSize + size;
      disk.chunks++;
      disk.dataBytes += size;
    } else {
      disk.end += skipped * (disk.chunkSize ?? XVA_CHUNK_SIZE);
      disk.keepalives++;
    }
    disk.lastSeq = seq;
    this.pending = { name, ref, seq, offset: at, digest: new ChunkDigest(this.xxh, this.algorithm) };
    this.body = Body.Chunk;
  }

  private disk(ref: string): DiskState {
    let disk = this.disks.get(ref);
    if (!disk) {
      disk = {
        ref,
        chunks: 0,
        keepalives: 0,
        dataBytes: 0,
        lastSeq: -1,
        end: 0,
        chunkSize: undefined,
        shortChunk: undefined,
      };
      this.disks.set(ref, disk);
    }
    return disk;
  }

  private endChecksum(): void {
    const pending = this.pending!;
    this.pending = undefined;
    const algorithm = this.checksumAlgorithm;
    const label = ALGORITHM_LABEL[algorithm];
    const where = { offset: pending.offset, entry: pending.name };
    const expected = parseChecksumText(algorithm, this.small.subarray(0, this.smallFill));
    if (expected === undefined) {
      throw new XvaVerifyError(
        'checksum-format',
        `Checksum entry ${this.entryName} at byte ${this.entryOffset} does not hold a ${label} checksum ("${this.small.toString('latin1', 0, Math.min(this.smallFill, 48)).trim()}"): it is corrupt.`,
        { offset: this.entryOffset, entry: this.entryName },
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
        `Chunk ${pending.name} at byte ${pending.offset} is corrupt: its data has ${label} ${displayChecksum(algorithm, actual)} but its checksum entry (at byte ${this.entryOffset}) says ${displayChecksum(algorithm, expected)}.`,
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

  private expectNoPendingChunk(name: string, at: number): void {
    if (this.pending) throw this.missingChecksum(this.pending, at, `entry ${name}`);
  }

  private ignore(name: string): void {
    this.ignoredEntries++;
    if (this.ignoredEntryNames.length < MAX_IGNORED_NAMES) this.ignoredEntryNames.push(name);
  }

  // ---- small bodies ----

  private beginSmallBody(
    body: Body,
    size: number,
    max: number,
    damage: 'checksum-format' | 'extended-header',
    what: string,
  ): void {
    if (size > max) {
      throw new XvaVerifyError(
        damage,
        `The entry at byte ${this.entryOffset}, ${what}, claims ${size} bytes, far more than it can hold: its header is corrupt.`,
        {
          offset: this.entryOffset,
          entry: this.entryName,
        },
      );
    }
    if (this.small.length < size) this.small = Buffer.alloc(Math.max(size, MAX_CHECKSUM_ENTRY));
    this.smallFill = 0;
    this.body = body;
  }

  private endExtendedHeader(): void {
    const bytes = this.small.subarray(0, this.smallFill);
    try {
      this.override = this.body === Body.PaxHeader ? parsePaxHeader(bytes) : parseGnuLongName(bytes);
    } catch (err) {
      if (!(err instanceof ExtendedHeaderError)) throw err;
      throw new XvaVerifyError(
        'extended-header',
        `The extended header at byte ${this.entryOffset} is corrupt: ${err.message}.`,
        { offset: this.entryOffset },
      );
    }
  }

  // ---- end of stream ----

  private checkComplete(): void {
    const at = this.base;
    if (at === 0)
      throw new XvaVerifyError('truncated', 'The XVA stream is empty: the export sent nothing.', { offset: 0 });
    switch (this.phase) {
      case Phase.Body:
        throw new XvaVerifyError(
          'truncated',
          `The XVA stream ended at byte ${at}, inside entry ${this.entryName} (which starts at byte ${this.entryOffset}) with ${this.remaining} of its bytes missing: the export was cut short.`,
          { offset: at, entry: this.entryName },
        );
      case Phase.Padding:
        throw new XvaVerifyError(
          'truncated',
          `The XVA stream ended at byte ${at}, in the padding after entry ${this.entryName}: the export was cut short.`,
          {
            offset: at,
            entry: this.entryName,
          },
        );
      case Phase.Header:
        if (this.headerFill > 0) {
          throw new XvaVerifyError(
            'truncated',
            `The XVA stream ended at byte ${at}, inside the tar header that starts at byte ${at - this.headerFill}: the export was cut short.`,
            {
              offset: at,
            },
          );
        }
        if (this.pending) throw this.missingChecksum(this.pending, at, 'the end of the stream');
        if (this.override) {
          throw new XvaVerifyError(
            'truncated',
            `The XVA stream ended at byte ${at}, after an extended header but before the entry it describes.`,
            { offset: at },
          );
        }
        if (this.ovaXml === undefined) {
          throw new XvaVerifyError(
            'truncated',
            `The XVA stream ended at byte ${at} before its ova.xml was complete: the export was cut short.`,
            { offset: at },
          );
        }
        throw new XvaVerifyError(
          'truncated',
          this.zeroBlocks === 0
            ? `The XVA stream ended at byte ${at} without the two zero blocks that end an archive: the export was cut short between entries.`
            : `The XVA stream ended at byte ${at} after only one of the two zero blocks that end an archive: the export was cut short.`,
          { offset: at },
        );
      case Phase.Trailer:
        if (this.ovaXml === undefined) {
          throw new XvaVerifyError(
            'ova-xml',
            'The XVA is an empty archive: it has no ova.xml, so it is not an export.',
            { offset: 0 },
          );
        }
        return;
    }
  }
}
