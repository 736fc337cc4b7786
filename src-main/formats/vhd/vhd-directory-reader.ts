import type { VhdBlockFile, VhdStoredBlock } from './vhd-block-file.js';
import {
  BAT_NAME,
  blockObjectName,
  CHUNK_FILTERS_NAME,
  decodeDirectoryBat,
  FOOTER_NAME,
  HEADER_NAME,
  parseChunkFilters,
  type ChunkFilter,
  type VhdDirectoryStore,
} from './vhd-directory.js';
import { VhdFormatError } from './vhd-errors.js';
import {
  bitmapSize,
  decodeFooter,
  decodeHeader,
  DiskType,
  FOOTER_SIZE,
  HEADER_SIZE,
  type VhdFooter,
  type VhdHeader,
} from './vhd-structures.js';

// A VHD directory (vhd-directory.ts) read as one VHD of a chain: the chain reader, restore, export and verify
// take it as they take a VHD file. Footer, header and block table are read and checked on open, so a broken
// directory fails at once with the part at fault; blocks are read (and unfiltered) one object at a time.

/** Room for what a filter adds to incompressible bytes (gzip and brotli add well under 1 %). */
const slack = (n: number) => n + Math.ceil(n / 64) + 64 * 1024;

export class VhdDirectoryReader implements VhdBlockFile {
  private constructor(
    private readonly store: VhdDirectoryStore,
    readonly footer: VhdFooter,
    readonly header: VhdHeader,
    /** The header's own checksum field: what a merge state records to know the directory again. */
    readonly headerChecksum: number,
    /** One flag a table entry: whether the block's object is stored. */
    readonly present: Uint8Array,
    readonly filter: ChunkFilter,
  ) {}

  static async open(store: VhdDirectoryStore): Promise<VhdDirectoryReader> {
    const { filter, footer, header, headerChecksum, part } = await openParts(store);
    const bat = await part(BAT_NAME, Math.max(header.maxTableEntries, 1));
    const present = decodeDirectoryBat(bat, header.maxTableEntries, `${store.label}/${BAT_NAME}`);
    return new VhdDirectoryReader(store, footer, header, headerChecksum, present, filter);
  }

  get path(): string {
    return this.store.label;
  }

  get blockCount(): number {
    return Math.ceil(this.footer.currentSize / this.header.blockSize);
  }

  get storedBlockBytes(): number {
    return bitmapSize(this.header.blockSize) + this.header.blockSize;
  }

  hasBlock(index: number): boolean {
    return index < this.blockCount && this.present[index] === 1;
  }

  /** Indexes of the stored blocks, increasing. */
  storedBlocks(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.blockCount; i++) if (this.present[i] === 1) out.push(i);
    return out;
  }

  /** The block's object as stored (filtered), or undefined when the bat says it is absent. */
  async readStoredObject(index: number): Promise<Buffer | undefined> {
    if (!this.hasBlock(index)) return undefined;
    const name = blockObjectName(index);
    const raw = await this.store.read(name, slack(this.storedBlockBytes));
    if (raw === undefined) {
      throw new VhdFormatError('block', `block ${index} is in the block table but its object ${name} is missing`, {
        offset: 0,
        source: `${this.path}/${name}`,
      });
    }
    return raw;
  }

  async readBlock(index: number, into?: Buffer): Promise<VhdStoredBlock | undefined> {
    const raw = await this.readStoredObject(index);
    if (raw === undefined) return undefined;
    return this.decodeObject(index, raw, into);
  }

  /** A block object as stored (readStoredObject), unfiltered and checked for its length. */
  async decodeObject(index: number, raw: Buffer, into?: Buffer): Promise<VhdStoredBlock> {
    const source = `${this.path}/${blockObjectName(index)}`;
    const buf = await this.filter.decode(raw).catch((err: unknown) => {
      throw new VhdFormatError(
        'block',
        `block ${index} cannot be decoded as ${this.filter.id} (${err instanceof Error ? err.message : String(err)})`,
        { offset: 0, source },
      );
    });
    if (buf.length !== this.storedBlockBytes) {
      throw new VhdFormatError(
        'block',
        `block ${index} holds ${buf.length} bytes, not the ${this.storedBlockBytes} of a bitmap and a block`,
        { offset: Math.min(buf.length, this.storedBlockBytes), source },
      );
    }
    const out = into && into.length >= buf.length ? into.subarray(0, buf.length) : buf;
    if (out !== buf) buf.copy(out);
    const bitmapBytes = bitmapSize(this.header.blockSize);
    return { bitmap: out.subarray(0, bitmapBytes), data: out.subarray(bitmapBytes) };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The store this directory is read from (the merge writes into it). */
  get objects(): VhdDirectoryStore {
    return this.store;
  }
}

/** The footer and header of a directory alone (its identity and parent), for a scan that found it damaged. */
export async function readDirectoryLink(store: VhdDirectoryStore): Promise<{ footer: VhdFooter; header: VhdHeader }> {
  const { footer, header } = await openParts(store);
  return { footer, header };
}

async function openParts(store: VhdDirectoryStore) {
  const label = store.label;
  const filtersText = await store.read(CHUNK_FILTERS_NAME, 64 * 1024);
  const filter = parseChunkFilters(filtersText?.toString('utf8'), `${label}/${CHUNK_FILTERS_NAME}`);
  const part = async (name: string, maxBytes: number): Promise<Buffer> => {
    const source = `${label}/${name}`;
    const raw = await store.read(name, slack(maxBytes));
    if (raw === undefined) {
      throw new VhdFormatError('truncated', `the VHD directory has no ${name}`, { offset: 0, source });
    }
    return filter.decode(raw).catch((err: unknown) => {
      throw new VhdFormatError(
        name === BAT_NAME ? 'bat' : name === HEADER_NAME ? 'header' : 'footer',
        `${name} cannot be decoded as ${filter.id} (${err instanceof Error ? err.message : String(err)})`,
        { offset: 0, source },
      );
    });
  };
  const footerSource = `${label}/${FOOTER_NAME}`;
  const footer = decodeFooter(await part(FOOTER_NAME, FOOTER_SIZE), { offset: 0, source: footerSource });
  if (footer.diskType !== DiskType.Dynamic && footer.diskType !== DiskType.Differencing) {
    throw new VhdFormatError('unsupported', 'a VHD directory must be dynamic or differencing', {
      offset: 0,
      source: footerSource,
    });
  }
  const headerSource = `${label}/${HEADER_NAME}`;
  const rawHeader = await part(HEADER_NAME, HEADER_SIZE);
  const header = decodeHeader(rawHeader, { offset: 0, source: headerSource });
  const headerChecksum = rawHeader.readUInt32BE(36);
  const needed = Math.ceil(footer.currentSize / header.blockSize);
  if (header.maxTableEntries < needed) {
    throw new VhdFormatError(
      'header',
      `BAT has ${header.maxTableEntries} entries but a ${footer.currentSize}-byte disk needs ${needed}`,
      { offset: 0, source: headerSource },
    );
  }
  return { filter, footer, header, headerChecksum, part };
}
