import { VhdFormatError } from './vhd-errors.js';

// The fixed-size structures of a VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0):
// the 512-byte footer, the 1024-byte dynamic header with its parent locators, and the block allocation table.
// Everything is big-endian. Encoders fill in the checksums; decoders verify them and every field a reader
// relies on, and throw a VhdFormatError located at the structure's byte offset.

export const SECTOR = 512;
export const FOOTER_SIZE = 512;
export const HEADER_SIZE = 1024;
/** The only block size xapi (vhd-tool) and Xen Orchestra write. */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
/** A BAT entry for a block that is not stored. */
export const BAT_ABSENT = 0xffff_ffff;
/** The spec's limit, which xapi enforces (bigger disks are exported as qcow2). */
export const VHD_MAX_SIZE = 2040 * 1024 * 1024 * 1024;

/**
 * The creator application of the VHDs Sluice makes itself (exports, restores' uploads): XenServer's blktap
 * value. qemu sizes a VHD by the footer's current_size only for the creators it knows to mean it ("tap\0" on
 * every qemu version); for others ("caml", "xo  ", "vpc "…) older versions use the CHS geometry, which falls
 * short of most disk sizes, and newer ones flip the rule for some. Files copied from the host keep its footer.
 */
export const SLUICE_CREATOR_APP = 'tap\0';

export const DiskType = { Fixed: 2, Dynamic: 3, Differencing: 4 } as const;
export type DiskType = (typeof DiskType)[keyof typeof DiskType];

const FOOTER_COOKIE = 'conectix';
const HEADER_COOKIE = 'cxsparse';
const FORMAT_VERSION = 0x0001_0000;
/** Bit 1 ("reserved") must always be set; no other feature is used. */
const FEATURES = 0x0000_0002;
const NO_DATA_OFFSET = 0xffff_ffff_ffff_ffffn;
/** VHD time stamps count seconds from 2000-01-01T00:00:00Z. */
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);
const MAX_PARENT_LOCATORS = 8;
const PARENT_NAME_BYTES = 512;

// Offsets of the checksum fields, which are zeroed while summing.
const FOOTER_CHECKSUM_AT = 64;
const HEADER_CHECKSUM_AT = 36;

export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

export interface VhdFooter {
  features: number;
  /** Where the dynamic header is (512 in every file and stream we meet). */
  dataOffset: number;
  /** Seconds since 2000-01-01 UTC. */
  timestamp: number;
  /** Four ASCII characters: "caml" for vhd-tool, "qem2" for qemu, "vpc " for Virtual PC… */
  creatorApp: string;
  creatorVersion: number;
  /** "Wi2k" or "Mac " as a uint32. */
  creatorHostOs: number;
  originalSize: number;
  currentSize: number;
  geometry: Geometry;
  diskType: DiskType;
  /** Lowercase dashed uuid: the VDI uuid for xapi streams and XO files. */
  uuid: string;
  savedState: boolean;
}

/** Where a differencing disk records how to find its parent file; platform codes are four ASCII characters. */
export interface ParentLocator {
  platformCode: string;
  /** As written: bytes in practice (vhd-tool, XO, Hyper-V), though the spec says sectors. */
  dataSpace: number;
  dataLength: number;
  dataOffset: number;
}

export interface VhdHeader {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  /** Footer uuid of the parent file; the nil uuid for a dynamic disk. */
  parentUuid: string;
  parentTimestamp: number;
  /** The parent's file name as the writer recorded it (UTF-16BE in the file); '' for a dynamic disk. */
  parentName: string;
  parentLocators: ParentLocator[];
}

interface Where {
  offset: number;
  source?: string | undefined;
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ones' complement of the byte sum, the checksum field itself counted as zero. */
export function vhdChecksum(buf: Buffer, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    if (i >= checksumAt && i < checksumAt + 4) continue;
    sum += buf[i]!;
  }
  return ~sum >>> 0;
}

/**
 * Cylinders/heads/sectors for a size, by the spec's algorithm (appendix "CHS Calculation"). Tools that size a
 * disk by its CHS (qemu, for creators it does not know) see geometry × 512 bytes, which may be less than
 * current_size; readers must use current_size.
 */
export function chsGeometry(currentSize: number): Geometry {
  let totalSectors = Math.floor(currentSize / SECTOR);
  if (totalSectors > 65535 * 16 * 255) totalSectors = 65535 * 16 * 255;
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.floor((cylinderTimesHeads + 1023) / 1024);
    if (heads < 4) heads = 4;
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}

export function vhdTimestamp(date: Date = new Date()): number {
  return Math.max(0, Math.floor((date.getTime() - VHD_EPOCH_MS) / 1000)) >>> 0;
}

export function uuidToBytes(uuid: string): Buffer {
  if (!UUID_RE.test(uuid)) throw new TypeError(`not a uuid: ${JSON.stringify(uuid)}`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

export function uuidFromBytes(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Bytes of the sector bitmap in front of each block: one bit per sector, padded to whole sectors. */
export function bitmapSize(blockSize: number): number {
  return Math.ceil(blockSize / SECTOR / 8 / SECTOR) * SECTOR;
}

/** Bytes the BAT occupies in a file: 4 per entry, padded to whole sectors. */
export function batSize(maxTableEntries: number): number {
  return Math.ceil((maxTableEntries * 4) / SECTOR) * SECTOR;
}

function safeNumber(value: bigint, what: string, where: Where, damage: 'footer' | 'header'): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new VhdFormatError(damage, `${what} ${value} is out of range`, where);
  return Number(value);
}

export function encodeFooter(f: {
  currentSize: number;
  diskType: DiskType;
  uuid: string;
  timestamp?: number;
  originalSize?: number;
  creatorApp?: string;
  creatorVersion?: number;
  creatorHostOs?: number;
  geometry?: Geometry;
  /** 512 for dynamic and differencing disks. */
  dataOffset?: number;
}): Buffer {
  const buf = Buffer.alloc(FOOTER_SIZE);
  buf.write(FOOTER_COOKIE, 0, 'latin1');
  buf.writeUInt32BE(FEATURES, 8);
  buf.writeUInt32BE(FORMAT_VERSION, 12);
  buf.writeBigUInt64BE(f.diskType === DiskType.Fixed ? NO_DATA_OFFSET : BigInt(f.dataOffset ?? FOOTER_SIZE), 16);
  buf.writeUInt32BE(f.timestamp ?? 0, 24);
  buf.write((f.creatorApp ?? SLUICE_CREATOR_APP).padEnd(4, ' ').slice(0, 4), 28, 'latin1');
  buf.writeUInt32BE(f.creatorVersion ?? 0x0001_0000, 32);
  buf.writeUInt32BE(f.creatorHostOs ?? 0, 36);
  buf.writeBigUInt64BE(BigInt(f.originalSize ?? f.currentSize), 40);
  buf.writeBigUInt64BE(BigInt(f.currentSize), 48);
  const g = f.geometry ?? chsGeometry(f.currentSize);
  buf.writeUInt16BE(g.cylinders, 56);
  buf.writeUInt8(g.heads, 58);
  buf.writeUInt8(g.sectorsPerTrack, 59);
  buf.writeUInt32BE(f.diskType, 60);
  uuidToBytes(f.uuid).copy(buf, 68);
  buf.writeUInt32BE(vhdChecksum(buf, FOOTER_CHECKSUM_AT), FOOTER_CHECKSUM_AT);
  return buf;
}

export function decodeFooter(buf: Buffer, where: Where): VhdFooter {
  if (buf.length < FOOTER_SIZE) throw new VhdFormatError('truncated', 'footer is shorter than 512 bytes', where);
  const cookie = buf.toString('latin1', 0, 8);
  if (cookie !== FOOTER_COOKIE) {
    throw new VhdFormatError('footer', `no VHD footer: cookie is ${JSON.stringify(cookie)}, not "conectix"`, where);
  }
  const stored = buf.readUInt32BE(FOOTER_CHECKSUM_AT);
  const computed = vhdChecksum(buf.subarray(0, FOOTER_SIZE), FOOTER_CHECKSUM_AT);
  if (stored !== computed) {
    throw new VhdFormatError(
      'footer',
      `footer checksum is 0x${hex(stored)} but its bytes sum to 0x${hex(computed)}: the footer is damaged`,
      where,
    );
  }
  const version = buf.readUInt32BE(12);
  if (version >>> 16 !== 1)
    throw new VhdFormatError('unsupported', `footer format version 0x${hex(version)} is not 1.x`, where);
  const diskType = buf.readUInt32BE(60);
  if (diskType !== DiskType.Fixed && diskType !== DiskType.Dynamic && diskType !== DiskType.Differencing) {
    throw new VhdFormatError(
      'unsupported',
      `disk type ${diskType} is not fixed (2), dynamic (3) or differencing (4)`,
      where,
    );
  }
  const currentSize = safeNumber(buf.readBigUInt64BE(48), 'current size', where, 'footer');
  if (currentSize % SECTOR !== 0)
    throw new VhdFormatError('footer', `current size ${currentSize} is not a whole number of sectors`, where);
  if (currentSize > VHD_MAX_SIZE)
    throw new VhdFormatError('unsupported', `current size ${currentSize} exceeds the VHD limit of 2040 GiB`, where);
  const rawDataOffset = buf.readBigUInt64BE(16);
  return {
    features: buf.readUInt32BE(8),
    dataOffset: rawDataOffset === NO_DATA_OFFSET ? -1 : safeNumber(rawDataOffset, 'data offset', where, 'footer'),
    timestamp: buf.readUInt32BE(24),
    creatorApp: buf.toString('latin1', 28, 32),
    creatorVersion: buf.readUInt32BE(32),
    creatorHostOs: buf.readUInt32BE(36),
    originalSize: safeNumber(buf.readBigUInt64BE(40), 'original size', where, 'footer'),
    currentSize,
    geometry: { cylinders: buf.readUInt16BE(56), heads: buf.readUInt8(58), sectorsPerTrack: buf.readUInt8(59) },
    diskType: diskType as DiskType,
    uuid: uuidFromBytes(buf.subarray(68, 84)),
    savedState: buf.readUInt8(84) !== 0,
  };
}

export function encodeHeader(h: {
  tableOffset: number;
  maxTableEntries: number;
  blockSize?: number;
  parentUuid?: string;
  parentTimestamp?: number;
  parentName?: string;
  parentLocators?: ParentLocator[];
}): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.write(HEADER_COOKIE, 0, 'latin1');
  buf.writeBigUInt64BE(NO_DATA_OFFSET, 8);
  buf.writeBigUInt64BE(BigInt(h.tableOffset), 16);
  buf.writeUInt32BE(FORMAT_VERSION, 24);
  buf.writeUInt32BE(h.maxTableEntries, 28);
  buf.writeUInt32BE(h.blockSize ?? DEFAULT_BLOCK_SIZE, 32);
  uuidToBytes(h.parentUuid ?? NIL_UUID).copy(buf, 40);
  buf.writeUInt32BE(h.parentTimestamp ?? 0, 56);
  if (h.parentName) {
    const name = utf16be(h.parentName);
    if (name.length > PARENT_NAME_BYTES)
      throw new RangeError(`parent name is longer than 256 UTF-16 units: ${h.parentName}`);
    name.copy(buf, 64);
  }
  const locators = h.parentLocators ?? [];
  if (locators.length > MAX_PARENT_LOCATORS) throw new RangeError('a VHD header holds at most 8 parent locators');
  locators.forEach((l, i) => {
    const at = 576 + i * 24;
    buf.write(l.platformCode.padEnd(4, ' ').slice(0, 4), at, 'latin1');
    buf.writeUInt32BE(l.dataSpace, at + 4);
    buf.writeUInt32BE(l.dataLength, at + 8);
    buf.writeBigUInt64BE(BigInt(l.dataOffset), at + 16);
  });
  buf.writeUInt32BE(vhdChecksum(buf, HEADER_CHECKSUM_AT), HEADER_CHECKSUM_AT);
  return buf;
}

export function decodeHeader(buf: Buffer, where: Where): VhdHeader {
  if (buf.length < HEADER_SIZE)
    throw new VhdFormatError('truncated', 'dynamic header is shorter than 1024 bytes', where);
  const cookie = buf.toString('latin1', 0, 8);
  if (cookie !== HEADER_COOKIE) {
    throw new VhdFormatError('header', `no dynamic header: cookie is ${JSON.stringify(cookie)}, not "cxsparse"`, where);
  }
  const stored = buf.readUInt32BE(HEADER_CHECKSUM_AT);
  const computed = vhdChecksum(buf.subarray(0, HEADER_SIZE), HEADER_CHECKSUM_AT);
  if (stored !== computed) {
    throw new VhdFormatError(
      'header',
      `dynamic header checksum is 0x${hex(stored)} but its bytes sum to 0x${hex(computed)}: the header is damaged`,
      where,
    );
  }
  const version = buf.readUInt32BE(24);
  if (version >>> 16 !== 1)
    throw new VhdFormatError('unsupported', `dynamic header version 0x${hex(version)} is not 1.x`, where);
  const blockSize = buf.readUInt32BE(32);
  // A power of two of at least one sector keeps the bitmap arithmetic exact; every writer uses 2 MiB.
  if (blockSize < SECTOR || (blockSize & (blockSize - 1)) !== 0) {
    throw new VhdFormatError('unsupported', `block size ${blockSize} is not a power of two of at least 512`, where);
  }
  const parentLocators: ParentLocator[] = [];
  for (let i = 0; i < MAX_PARENT_LOCATORS; i++) {
    const at = 576 + i * 24;
    const code = buf.readUInt32BE(at);
    if (code === 0) continue;
    parentLocators.push({
      platformCode: buf.toString('latin1', at, at + 4),
      dataSpace: buf.readUInt32BE(at + 4),
      dataLength: buf.readUInt32BE(at + 8),
      dataOffset: safeNumber(buf.readBigUInt64BE(at + 16), `parent locator ${i} offset`, where, 'header'),
    });
  }
  return {
    tableOffset: safeNumber(buf.readBigUInt64BE(16), 'table offset', where, 'header'),
    maxTableEntries: buf.readUInt32BE(28),
    blockSize,
    parentUuid: uuidFromBytes(buf.subarray(40, 56)),
    parentTimestamp: buf.readUInt32BE(56),
    parentName: decodeUtf16be(buf.subarray(64, 64 + PARENT_NAME_BYTES)),
    parentLocators,
  };
}

/** BAT entries (sector offsets, BAT_ABSENT for absent blocks) from the table's bytes. */
export function decodeBat(buf: Buffer, maxTableEntries: number): Uint32Array {
  const bat = new Uint32Array(maxTableEntries);
  for (let i = 0; i < maxTableEntries; i++) bat[i] = buf.readUInt32BE(i * 4);
  return bat;
}

/** The table as stored: big-endian entries, padded with 0xFF to whole sectors as vhd-tool does. */
export function encodeBat(bat: Uint32Array): Buffer {
  const buf = Buffer.alloc(batSize(bat.length), 0xff);
  for (let i = 0; i < bat.length; i++) buf.writeUInt32BE(bat[i]!, i * 4);
  return buf;
}

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

function decodeUtf16be(buf: Buffer): string {
  let end = 0;
  while (end + 1 < buf.length && (buf[end] !== 0 || buf[end + 1] !== 0)) end += 2;
  return Buffer.from(buf.subarray(0, end)).swap16().toString('utf16le');
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
