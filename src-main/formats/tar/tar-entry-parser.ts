import { ExtendedHeaderError, parseGnuLongName, parsePaxHeader, type HeaderOverride } from './tar-extended-header.js';
import { TarFormatError } from './tar-format-error.js';
import {
  isZeroBlock,
  parseTarHeader,
  TAR_BLOCK,
  TarHeaderError,
  tarPadding,
  type TarEntryType,
  type TarHeader,
} from './tar-v7-header.js';

export { TarFormatError, type TarDamage } from './tar-format-error.js';

// Reads a tar stream pushed in pieces of any size, without holding it: headers (pax and GNU extended headers
// folded into the entry they describe), entry data handed on as views of the pushed pieces, zero padding, and
// the end-of-archive blocks with at most one record of zeros after them. Damage throws TarFormatError.

export interface TarEntry {
  /** After any pax path or GNU long name. */
  name: string;
  /** After any pax size. */
  size: number;
  type: Exclude<TarEntryType, 'pax-header' | 'gnu-long-name'>;
  typeflag: string;
  /** Byte of the stream where the entry's own header starts. */
  offset: number;
}

/** Called in stream order; whatever a callback throws ends the push and reaches push()'s caller. */
export interface TarConsumer {
  entryStart(entry: TarEntry): void;
  /** The next bytes of the current entry: a view of the pushed piece, so valid only until push() returns. */
  entryData(slice: Buffer): void;
  entryEnd(entry: TarEntry): void;
  /** The first end-of-archive block, at `offset`: no entry follows. */
  entriesEnd?(offset: number): void;
  /** The second end-of-archive block ends at `offset`. */
  archiveEnd?(offset: number): void;
}

export interface TarParserOptions {
  /** Largest pax or GNU extended header body believed; real ones hold a few short names. */
  maxExtendedHeader?: number;
}

const Phase = { Header: 0, Body: 1, Padding: 2, Trailer: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Tar writers may pad the archive to a whole record of 20 blocks after the end blocks. */
const TAR_RECORD = 20 * TAR_BLOCK;

export class TarEntryParser {
  private base = 0;
  private phase: Phase = Phase.Header;
  private readonly maxExtendedHeader: number;

  // Header assembly, for headers split across pushes.
  private readonly headerBlock = Buffer.alloc(TAR_BLOCK);
  private headerFill = 0;
  private zeroBlocks = 0;
  private trailerLimit = 0;

  // The entry being read: one for the consumer, or an extended header read here.
  private entry: TarEntry | undefined;
  private entryName = '';
  private entryOffset = 0;
  private remaining = 0;
  private padding = 0;
  private extended: 'pax' | 'gnu' | undefined;
  private extendedBody = Buffer.alloc(0);
  private extendedFill = 0;
  private override: HeaderOverride | undefined;

  constructor(
    private readonly consumer: TarConsumer,
    options: TarParserOptions = {},
  ) {
    this.maxExtendedHeader = options.maxExtendedHeader ?? 64 * 1024;
  }

  /** Bytes pushed and read so far; a push that threw is not counted. */
  get bytesPushed(): number {
    return this.base;
  }

  push(chunk: Buffer): void {
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

  /** The stream is over: throws TarFormatError unless the archive was complete. */
  end(): void {
    const at = this.base;
    if (at === 0) throw new TarFormatError({ kind: 'truncated-empty' }, 0);
    const entry = this.entryName;
    switch (this.phase) {
      case Phase.Body:
        throw new TarFormatError(
          { kind: 'truncated-in-entry', entry, entryOffset: this.entryOffset, missing: this.remaining },
          at,
        );
      case Phase.Padding:
        throw new TarFormatError({ kind: 'truncated-in-padding', entry }, at);
      case Phase.Header:
        if (this.headerFill > 0)
          throw new TarFormatError({ kind: 'truncated-in-header', headerOffset: at - this.headerFill }, at);
        if (this.override) throw new TarFormatError({ kind: 'truncated-after-extended-header' }, at);
        throw new TarFormatError({ kind: 'truncated-between-entries', zeroBlocks: this.zeroBlocks as 0 | 1 }, at);
      case Phase.Trailer:
        return;
    }
  }

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
    if (this.zeroBlocks > 0) throw new TarFormatError({ kind: 'lone-zero-block', nextHeader: at }, at - TAR_BLOCK);
    let header: TarHeader;
    try {
      header = parseTarHeader(block);
    } catch (err) {
      if (!(err instanceof TarHeaderError)) throw err;
      throw new TarFormatError({ kind: 'header', reason: err.message, claimedName: err.claimedName }, at);
    }
    this.entryName = header.name;
    this.entryOffset = at;
    this.extended = header.type === 'pax-header' ? 'pax' : header.type === 'gnu-long-name' ? 'gnu' : undefined;
    if (this.extended) this.beginExtendedHeader(header.size);
    else this.beginEntry(header, at);
    this.phase = Phase.Body;
    if (this.remaining === 0) this.endBody();
  }

  private onZeroBlock(at: number): void {
    if (this.zeroBlocks === 0) {
      this.consumer.entriesEnd?.(at);
      if (this.override)
        throw new TarFormatError({ kind: 'dangling-extended-header', archiveEnd: at }, this.entryOffset);
      this.zeroBlocks = 1;
      return;
    }
    this.zeroBlocks = 2;
    this.phase = Phase.Trailer;
    const end = at + TAR_BLOCK;
    this.trailerLimit = Math.ceil(end / TAR_RECORD) * TAR_RECORD;
    this.consumer.archiveEnd?.(end);
  }

  private beginEntry(header: TarHeader, at: number): void {
    const { name, size } = { ...header, ...this.override };
    this.override = undefined;
    this.entry = { name, size, type: header.type as TarEntry['type'], typeflag: header.typeflag, offset: at };
    this.entryName = name;
    this.remaining = size;
    this.padding = tarPadding(size);
    this.consumer.entryStart(this.entry);
  }

  private beginExtendedHeader(size: number): void {
    this.entry = undefined;
    this.remaining = size;
    this.padding = tarPadding(size);
    if (size > this.maxExtendedHeader) {
      const damage = { kind: 'extended-header-size', format: this.extended!, entry: this.entryName, size } as const;
      throw new TarFormatError(damage, this.entryOffset);
    }
    if (this.extendedBody.length < size) this.extendedBody = Buffer.alloc(size);
    this.extendedFill = 0;
  }

  private readBody(chunk: Buffer, pos: number): number {
    const n = Math.min(this.remaining, chunk.length - pos);
    if (this.entry) {
      this.consumer.entryData(chunk.subarray(pos, pos + n));
    } else {
      chunk.copy(this.extendedBody, this.extendedFill, pos, pos + n);
      this.extendedFill += n;
    }
    this.remaining -= n;
    if (this.remaining === 0) this.endBody();
    return pos + n;
  }

  private endBody(): void {
    if (this.entry) this.consumer.entryEnd(this.entry);
    else this.endExtendedHeader();
    this.phase = this.padding > 0 ? Phase.Padding : Phase.Header;
  }

  private endExtendedHeader(): void {
    const bytes = this.extendedBody.subarray(0, this.extendedFill);
    try {
      this.override = this.extended === 'pax' ? parsePaxHeader(bytes) : parseGnuLongName(bytes);
    } catch (err) {
      if (!(err instanceof ExtendedHeaderError)) throw err;
      throw new TarFormatError({ kind: 'extended-header', reason: err.message }, this.entryOffset);
    }
  }

  private readPadding(chunk: Buffer, pos: number): number {
    const n = Math.min(this.padding, chunk.length - pos);
    // Every common tar writer pads with zeros; anything else means bytes landed where they should not.
    for (let i = pos; i < pos + n; i++) {
      if (chunk[i] !== 0) throw new TarFormatError({ kind: 'padding', entry: this.entryName }, this.base + i);
    }
    this.padding -= n;
    if (this.padding === 0) this.phase = Phase.Header;
    return pos + n;
  }

  private readTrailer(chunk: Buffer, pos: number): number {
    for (let i = pos; i < chunk.length; i++) {
      const at = this.base + i;
      if (chunk[i] !== 0) throw new TarFormatError({ kind: 'trailing-data' }, at);
      if (at >= this.trailerLimit)
        throw new TarFormatError({ kind: 'trailing-zeros', recordEnd: this.trailerLimit }, at);
    }
    return chunk.length;
  }
}
