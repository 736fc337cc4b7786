import { VhdByteQueue } from './vhd-byte-queue.js';
import { VhdFormatError } from './vhd-errors.js';
import {
  BAT_ABSENT,
  batSize,
  bitmapSize,
  decodeBat,
  decodeFooter,
  decodeHeader,
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  NIL_UUID,
  SECTOR,
  type VhdFooter,
  type VhdHeader,
} from './vhd-structures.js';

// Reads a dynamic or differencing VHD as it streams past, holding at most one block: the body of
// GET /export_raw_vdi?format=vhd (footer copy, header, BAT, present blocks in increasing order, footer), or a
// VHD file read front to back. Blocks are taken in the order of their file offsets, so a file whose blocks are
// not in index order is read too, as long as the BAT comes before the blocks (true of every writer we know).

export interface VhdHeaderEvent {
  kind: 'header';
  footer: VhdFooter;
  header: VhdHeader;
  /** Sector offset of each block in the stream, BAT_ABSENT when absent. */
  bat: Uint32Array;
  /** Blocks the stream will carry. */
  presentBlocks: number;
  /** Total length of the stream (offset of the trailing footer + 512), known once the BAT is read. */
  expectedBytes: number;
}

export interface VhdBlockEvent {
  kind: 'block';
  index: number;
  /** One bit per sector, most significant bit first; vhd-tool sends all ones. */
  bitmap: Buffer;
  /** header.blockSize bytes; the tail of the last block past current_size is padding. */
  data: Buffer;
  /** Stream offset of the bitmap. */
  offset: number;
}

export interface VhdEndEvent {
  kind: 'end';
  footer: VhdFooter;
  bytes: number;
}

export type VhdStreamEvent = VhdHeaderEvent | VhdBlockEvent | VhdEndEvent;

export interface VhdStreamReaderOptions {
  /** Names the stream in errors, e.g. "host stream of VDI 1234…" or a file path. */
  source?: string;
  /**
   * Length of the whole input when known (a file): the footer is then its last 512 bytes wherever the blocks
   * end. Without it the footer must follow the last block, as in a host stream.
   */
  totalBytes?: number;
}

type Phase = 'footer' | 'header' | 'bat' | 'blocks' | 'trailer' | 'done';

interface PlannedBlock {
  index: number;
  offset: number;
}

export class VhdStreamReader {
  private readonly queue = new VhdByteQueue();
  /** Stream offset of the first byte in the queue. */
  private position = 0;
  private phase: Phase = 'footer';
  private footer: VhdFooter | undefined;
  private header: VhdHeader | undefined;
  private plan: PlannedBlock[] = [];
  private nextBlock = 0;
  private footerOffset = -1;
  private failed: VhdFormatError | undefined;

  constructor(private readonly opts: VhdStreamReaderOptions = {}) {}

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.position + this.queue.length;
  }

  /** Feeds the next piece of the stream; returns the events it completes, in order. */
  update(chunk: Buffer): VhdStreamEvent[] {
    if (this.failed) throw this.failed;
    this.queue.push(chunk);
    const events: VhdStreamEvent[] = [];
    try {
      for (let event = this.step(); event !== undefined; event = this.step()) {
        if (event !== null) events.push(event);
      }
    } catch (err) {
      if (err instanceof VhdFormatError) this.failed = err;
      throw err;
    }
    return events;
  }

  /** Declares the end of the input; throws if the VHD is incomplete. */
  finish(): VhdStreamEvent[] {
    if (this.failed) throw this.failed;
    if (this.phase === 'done') return [];
    const expected = this.footerOffset >= 0 ? `${this.footerOffset + FOOTER_SIZE} bytes` : 'more';
    const what =
      this.phase === 'blocks'
        ? `block ${this.plan[this.nextBlock]?.index}`
        : this.phase === 'trailer'
          ? 'the trailing footer'
          : `the ${this.phase}`;
    this.failed = new VhdFormatError(
      'truncated',
      `VHD ended after ${this.bytesReceived} bytes while reading ${what}; expected ${expected}`,
      this.where(this.bytesReceived),
    );
    throw this.failed;
  }

  /** One structure if the queue holds it: an event, null (progress without event), undefined (needs more bytes). */
  private step(): VhdStreamEvent | null | undefined {
    switch (this.phase) {
      case 'footer':
        return this.stepFooterCopy();
      case 'header':
        return this.stepHeader();
      case 'bat':
        return this.stepBat();
      case 'blocks':
        return this.stepBlock();
      case 'trailer':
        return this.stepTrailer();
      case 'done':
        return this.stepDone();
    }
  }

  private stepFooterCopy(): null | undefined {
    const buf = this.read(0, FOOTER_SIZE, 'the footer copy');
    if (!buf) return undefined;
    this.footer = decodeFooter(buf, this.where(0));
    if (this.footer.diskType === DiskType.Fixed) {
      throw new VhdFormatError(
        'unsupported',
        'this is a fixed VHD (raw data then footer), not a dynamic or differencing one',
        this.where(0),
      );
    }
    if (this.footer.dataOffset < FOOTER_SIZE) {
      throw new VhdFormatError(
        'footer',
        `footer says the dynamic header is at byte ${this.footer.dataOffset}, inside the footer copy`,
        this.where(0),
      );
    }
    this.phase = 'header';
    return null;
  }

  private stepHeader(): null | undefined {
    const footer = this.footer!;
    const buf = this.read(footer.dataOffset, HEADER_SIZE, 'the dynamic header');
    if (!buf) return undefined;
    this.header = decodeHeader(buf, this.where(footer.dataOffset));
    this.checkHeader(footer, this.header, footer.dataOffset);
    this.phase = 'bat';
    return null;
  }

  private stepBat(): VhdHeaderEvent | undefined {
    const header = this.header!;
    const buf = this.read(header.tableOffset, batSize(header.maxTableEntries), 'the BAT');
    if (!buf) return undefined;
    const bat = decodeBat(buf, header.maxTableEntries);
    this.planBlocks(bat, header);
    this.phase = this.plan.length > 0 ? 'blocks' : 'trailer';
    return {
      kind: 'header',
      footer: this.footer!,
      header,
      bat,
      presentBlocks: this.plan.length,
      expectedBytes: this.footerOffset + FOOTER_SIZE,
    };
  }

  private stepBlock(): VhdBlockEvent | undefined {
    const header = this.header!;
    const block = this.plan[this.nextBlock]!;
    const bitmapBytes = bitmapSize(header.blockSize);
    const buf = this.read(block.offset, bitmapBytes + header.blockSize, `block ${block.index}`);
    if (!buf) return undefined;
    this.nextBlock++;
    if (this.nextBlock === this.plan.length) this.phase = 'trailer';
    return {
      kind: 'block',
      index: block.index,
      bitmap: buf.subarray(0, bitmapBytes),
      data: buf.subarray(bitmapBytes),
      offset: block.offset,
    };
  }

  private stepTrailer(): VhdEndEvent | undefined {
    const buf = this.read(this.footerOffset, FOOTER_SIZE, 'the trailing footer');
    if (!buf) return undefined;
    const where = this.where(this.footerOffset);
    const trailer = decodeFooter(buf, where);
    const copy = this.footer!;
    if (trailer.uuid !== copy.uuid || trailer.currentSize !== copy.currentSize || trailer.diskType !== copy.diskType) {
      throw new VhdFormatError(
        'footer',
        `trailing footer (uuid ${trailer.uuid}, ${trailer.currentSize} bytes, type ${trailer.diskType}) differs from the copy at byte 0 ` +
          `(uuid ${copy.uuid}, ${copy.currentSize} bytes, type ${copy.diskType})`,
        where,
      );
    }
    this.phase = 'done';
    return { kind: 'end', footer: trailer, bytes: this.position };
  }

  private stepDone(): undefined {
    if (this.queue.length > 0) {
      throw new VhdFormatError(
        'trailing-data',
        `${this.queue.length} bytes follow the trailing footer`,
        this.where(this.position),
      );
    }
    return undefined;
  }

  /** The `length` bytes at stream offset `at`, skipping whatever lies before them; undefined until all arrived. */
  private read(at: number, length: number, what: string): Buffer | undefined {
    if (this.position > at) {
      throw new VhdFormatError(
        'bat',
        `${what} is said to start at byte ${at}, but the reader is already past byte ${this.position}`,
        this.where(at),
      );
    }
    const gap = Math.min(at - this.position, this.queue.length);
    this.queue.drop(gap);
    this.position += gap;
    if (this.position < at || this.queue.length < length) return undefined;
    this.position += length;
    return this.queue.take(length);
  }

  private checkHeader(footer: VhdFooter, header: VhdHeader, at: number): void {
    const needed = Math.ceil(footer.currentSize / header.blockSize);
    if (header.maxTableEntries < needed) {
      throw new VhdFormatError(
        'header',
        `BAT has ${header.maxTableEntries} entries but a ${footer.currentSize}-byte disk needs ${needed}`,
        this.where(at),
      );
    }
    if (header.tableOffset < at + HEADER_SIZE) {
      throw new VhdFormatError(
        'header',
        `BAT is said to start at byte ${header.tableOffset}, before the end of the dynamic header`,
        this.where(at),
      );
    }
    if (footer.diskType === DiskType.Differencing && header.parentUuid === NIL_UUID) {
      throw new VhdFormatError('header', 'differencing VHD without a parent uuid', this.where(at));
    }
  }

  /** Orders the present blocks by file offset and checks they neither overlap nor precede the BAT's end. */
  private planBlocks(bat: Uint32Array, header: VhdHeader): void {
    const blockBytes = bitmapSize(header.blockSize) + header.blockSize;
    const plan: PlannedBlock[] = [];
    // Entries past the disk's size (a BAT kept larger for a later resize) are ignored, as qemu does.
    const usable = Math.min(bat.length, Math.ceil(this.footer!.currentSize / header.blockSize));
    for (let index = 0; index < usable; index++) {
      const sector = bat[index]!;
      if (sector !== BAT_ABSENT) plan.push({ index, offset: sector * SECTOR });
    }
    plan.sort((a, b) => a.offset - b.offset);
    let end = header.tableOffset + batSize(header.maxTableEntries);
    for (const block of plan) {
      if (block.offset < end) {
        throw new VhdFormatError(
          'bat',
          `BAT entry of block ${block.index} points to byte ${block.offset}, inside the metadata or another block (free space starts at ${end})`,
          this.where(header.tableOffset + block.index * 4),
        );
      }
      end = block.offset + blockBytes;
    }
    if (this.opts.totalBytes !== undefined) {
      const footerOffset = this.opts.totalBytes - FOOTER_SIZE;
      if (footerOffset < end) {
        throw new VhdFormatError(
          'truncated',
          `VHD is ${this.opts.totalBytes} bytes but its blocks reach byte ${end}`,
          this.where(this.opts.totalBytes),
        );
      }
      this.footerOffset = footerOffset;
    } else {
      this.footerOffset = end;
    }
    this.plan = plan;
  }

  private where(offset: number): { offset: number; source?: string | undefined } {
    return { offset, source: this.opts.source };
  }
}

/** The same reader over an async source (an HTTP body, a file stream): yields events as the bytes arrive. */
export async function* readVhdStream(
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: VhdStreamReaderOptions = {},
): AsyncGenerator<VhdStreamEvent> {
  const reader = new VhdStreamReader(opts);
  for await (const chunk of source) {
    yield* reader.update(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
  }
  yield* reader.finish();
}
