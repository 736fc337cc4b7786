import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { VhdFormatError } from './vhd-errors.js';

// Xen Orchestra's VHD directory (vhd-lib's VhdDirectory), the form an incremental disk takes on object storage:
// no file to rewrite in place, so each part of the VHD is an object of its own under one folder prefix.
//
//   <ts>.alias.vhd        the point's name for the disk: a small file holding the directory's path, relative to
//                         the alias's folder (XO: `data/<ts>.vhd`); an alias never names another alias
//   data/<ts>.vhd/
//     chunk-filters.json  the filters every other part went through, in order (`["brotli"]`, `["gzip"]`); absent
//                         (or `[]`) when there are none. Written as plain JSON, never filtered itself
//     footer              the 512-byte VHD footer (dataOffset 512), filtered
//     header              the 1024-byte dynamic header, filtered; its table offset means nothing here
//     bat                 NOT the BAT of a VHD file: a bit array, bit i (most significant bit first in each byte)
//                         set when block i is stored; XO writes one byte per table entry (header.maxTableEntries
//                         bytes, most of them zero), filtered
//     blocks/<i div 1000>/<i mod 1000>   block i (decimal, no padding): its sector bitmap then its data, filtered
//     parentLocatorEntry0-7  parent locator data, when a writer stores any (XO's stream writer does not)
//
// Facts read from vatesfr/xen-orchestra (packages/vhd-lib: Vhd/VhdDirectory.js, Vhd/VhdAbstract.js, aliases.js,
// _bitmap.js, disk-consumer/DiskConsumerVhdDirectory.mjs; @xen-orchestra/backups/RemoteAdapter.mjs). XO writes
// directories with brotli at its lowest quality, gzip at its fastest level; the same settings here.

export const ALIAS_SUFFIX = '.alias.vhd';
/** XO refuses an alias larger than this (ALIAS_MAX_PATH_LENGTH): it holds one relative path. */
export const ALIAS_MAX_BYTES = 1024;
export const CHUNK_FILTERS_NAME = 'chunk-filters.json';
export const FOOTER_NAME = 'footer';
export const HEADER_NAME = 'header';
export const BAT_NAME = 'bat';
export const BLOCKS_FOLDER = 'blocks';

export function isAliasName(name: string): boolean {
  return name.endsWith(ALIAS_SUFFIX);
}

/** Where XO's writer puts the directory of the alias `<ts>.alias.vhd`, relative to the alias's folder. */
export function dataPathForAlias(aliasName: string): string {
  return `data/${aliasName.slice(0, -ALIAS_SUFFIX.length)}.vhd`;
}

/** The object of block `index`, relative to the directory: `blocks/<index div 1000>/<index mod 1000>`. */
export function blockObjectName(index: number): string {
  const prefix = Math.floor(index / 1000);
  return `${BLOCKS_FOLDER}/${prefix}/${index - prefix * 1000}`;
}

/** The bit array of present blocks, as XO stores it: one byte per table entry, MSB-first bits. */
export function encodeDirectoryBat(present: Uint8Array, maxTableEntries: number): Buffer {
  const buf = Buffer.alloc(Math.max(maxTableEntries, Math.ceil(maxTableEntries / 8)));
  for (let i = 0; i < maxTableEntries; i++) if (present[i]) buf[i >> 3]! |= 0x80 >> (i & 7);
  return buf;
}

/** Which blocks a directory's `bat` says are stored (one flag a table entry). */
export function decodeDirectoryBat(buf: Buffer, maxTableEntries: number, source: string): Uint8Array {
  const needed = Math.ceil(maxTableEntries / 8);
  if (buf.length < needed) {
    throw new VhdFormatError(
      'bat',
      `block table is ${buf.length} bytes, but ${maxTableEntries} blocks need ${needed} bytes of bits`,
      { offset: buf.length, source },
    );
  }
  const present = new Uint8Array(maxTableEntries);
  for (let i = 0; i < maxTableEntries; i++) present[i] = (buf[i >> 3]! << (i & 7)) & 0x80 ? 1 : 0;
  return present;
}

/** The filters a directory can name; 'none' (no filter) is what an absent or empty chunk-filters.json means. */
export type ChunkCompression = 'none' | 'gzip' | 'brotli';

export interface ChunkFilter {
  readonly id: ChunkCompression;
  encode(data: Buffer): Promise<Buffer>;
  decode(data: Buffer): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

const FILTERS: Record<ChunkCompression, ChunkFilter> = {
  none: { id: 'none', encode: (d) => Promise.resolve(d), decode: (d) => Promise.resolve(d) },
  gzip: {
    id: 'gzip',
    encode: (d) => gzip(d, { level: zlib.constants.Z_BEST_SPEED }),
    decode: (d) => gunzip(d),
  },
  brotli: {
    id: 'brotli',
    encode: (d) =>
      brotliCompress(d, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MIN_QUALITY },
      }),
    decode: (d) => brotliDecompress(d),
  },
};

export function chunkFilter(id: ChunkCompression): ChunkFilter {
  return FILTERS[id];
}

/** The chunk-filters.json a writer stores, or undefined when it stores none (no compression, as XO). */
export function chunkFiltersText(id: ChunkCompression): string | undefined {
  return id === 'none' ? undefined : JSON.stringify([id]);
}

/** The filter chunk-filters.json names (absent: none). XO applies one filter at most; more are refused. */
export function parseChunkFilters(text: string | undefined, source: string): ChunkFilter {
  if (text === undefined) return FILTERS.none;
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new VhdFormatError('header', `${CHUNK_FILTERS_NAME} is not JSON`, { offset: 0, source });
  }
  if (!Array.isArray(list) || list.some((f) => typeof f !== 'string')) {
    throw new VhdFormatError('header', `${CHUNK_FILTERS_NAME} is not a list of filter names`, { offset: 0, source });
  }
  const names = (list as string[]).filter((f) => f !== 'none');
  if (names.length === 0) return FILTERS.none;
  const id = names[0]!;
  if (names.length > 1 || (id !== 'gzip' && id !== 'brotli')) {
    throw new VhdFormatError(
      'unsupported',
      `${CHUNK_FILTERS_NAME} names ${JSON.stringify(list)}; Sluice reads one of gzip or brotli, as Xen Orchestra writes`,
      { offset: 0, source },
    );
  }
  return FILTERS[id];
}

/**
 * Where a directory's objects live, relative to the directory: the repository binds it to a remote. `read`
 * gives undefined for an absent object and refuses one larger than `maxBytes`.
 */
export interface VhdDirectoryStore {
  /** The directory as messages name it. */
  readonly label: string;
  read(name: string, maxBytes: number): Promise<Buffer | undefined>;
  /** A new object (put-if-absent on an object store; a temp file renamed into place on a folder). */
  writeNew(name: string, data: Buffer | string): Promise<void>;
  /** An object that may replace one already there, whole (the merge's bat, footer). */
  overwrite(name: string, data: Buffer | string): Promise<void>;
  delete(name: string): Promise<void>;
}
