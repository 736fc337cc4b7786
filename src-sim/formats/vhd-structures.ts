// VHD on-disk structures (Microsoft "Virtual Hard Disk Image Format Specification" 1.0) with the field values
// vhd-tool (ocaml-vhd) writes: creator "caml" version 1, host OS 0, features 2 (the always-set reserved bit).

export const SECTOR = 512;
export const FOOTER_SIZE = 512;
export const HEADER_SIZE = 1024;
export const BLOCK_SIZE = 2 * 1024 * 1024;
export const BITMAP_SIZE = BLOCK_SIZE / SECTOR / 8;
export const BAT_ABSENT = 0xffff_ffff;
export const DISK_TYPE_FIXED = 2;
export const DISK_TYPE_DYNAMIC = 3;
export const DISK_TYPE_DIFFERENCING = 4;
/** Largest size VHD can describe (vhd-tool and XAPI stop at 2040 GiB). */
export const VHD_MAX_SIZE = 2040 * 1024 * 1024 * 1024;

const FOOTER_COOKIE = 'conectix';
const HEADER_COOKIE = 'cxsparse';
const FORMAT_VERSION = 0x0001_0000;
const FEATURES_RESERVED = 2;
const CREATOR_APP = 'caml';
const CREATOR_VERSION = 1;
const PLATFORM_MACX = 0x4d61_6358; // "MacX": a file:// URI in UTF-8
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);
const NULL_UUID = '00000000-0000-0000-0000-000000000000';

export class VhdFormatError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'VhdFormatError';
  }
}

export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** CHS geometry from the spec's appendix; qemu derives the visible size from it for unknown creators. */
export function chsGeometry(totalSectors: number): Geometry {
  const sectors = Math.min(totalSectors, 65535 * 16 * 255);
  let sectorsPerTrack: number;
  let heads: number;
  let cylTimesHeads: number;
  if (sectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylTimesHeads = Math.floor(sectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylTimesHeads = Math.floor(sectors / sectorsPerTrack);
    heads = Math.max(Math.floor((cylTimesHeads + 1023) / 1024), 4);
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylTimesHeads = Math.floor(sectors / sectorsPerTrack);
    }
    if (cylTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylTimesHeads = Math.floor(sectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylTimesHeads / heads), heads, sectorsPerTrack };
}

/** Ones' complement of the byte sum, the checksum field itself counted as zero. */
export function vhdChecksum(buf: Buffer, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    if (i >= checksumOffset && i < checksumOffset + 4) continue;
    sum = (sum + buf[i]!) >>> 0;
  }
  return ~sum >>> 0;
}

export function vhdTimestamp(date: Date | undefined): number {
  if (!date) return 0;
  return Math.max(0, Math.floor((date.getTime() - VHD_EPOCH_MS) / 1000)) >>> 0;
}

export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new VhdFormatError(`not a UUID: "${uuid}"`);
  return Buffer.from(hex, 'hex');
}

export function bytesToUuid(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export interface VhdFooter {
  dataOffset: bigint;
  timestamp: number;
  creatorApp: string;
  originalSize: number;
  currentSize: number;
  geometry: Geometry;
  diskType: number;
  uuid: string;
}

export function encodeFooter(f: { currentSize: number; diskType: number; uuid: string; timestamp?: number }): Buffer {
  const buf = Buffer.alloc(FOOTER_SIZE);
  const geometry = chsGeometry(Math.floor(f.currentSize / SECTOR));
  buf.write(FOOTER_COOKIE, 0, 'latin1');
  buf.writeUInt32BE(FEATURES_RESERVED, 8);
  buf.writeUInt32BE(FORMAT_VERSION, 12);
  buf.writeBigUInt64BE(BigInt(f.diskType === DISK_TYPE_FIXED ? -1 : FOOTER_SIZE) & 0xffff_ffff_ffff_ffffn, 16);
  buf.writeUInt32BE(f.timestamp ?? 0, 24);
  buf.write(CREATOR_APP, 28, 'latin1');
  buf.writeUInt32BE(CREATOR_VERSION, 32);
  buf.writeUInt32BE(0, 36); // creator host OS: vhd-tool leaves it 0
  buf.writeBigUInt64BE(BigInt(f.currentSize), 40);
  buf.writeBigUInt64BE(BigInt(f.currentSize), 48);
  buf.writeUInt16BE(geometry.cylinders, 56);
  buf.writeUInt8(geometry.heads, 58);
  buf.writeUInt8(geometry.sectorsPerTrack, 59);
  buf.writeUInt32BE(f.diskType, 60);
  uuidToBytes(f.uuid).copy(buf, 68);
  buf.writeUInt32BE(vhdChecksum(buf, 64), 64);
  return buf;
}

export function decodeFooter(buf: Buffer, at = 0): VhdFooter {
  if (buf.length < FOOTER_SIZE) throw new VhdFormatError('footer truncated', at);
  if (buf.toString('latin1', 0, 8) !== FOOTER_COOKIE) throw new VhdFormatError('no "conectix" footer cookie', at);
  const stored = buf.readUInt32BE(64);
  if (vhdChecksum(buf.subarray(0, FOOTER_SIZE), 64) !== stored)
    throw new VhdFormatError('footer checksum mismatch', at);
  const version = buf.readUInt32BE(12);
  if (version !== FORMAT_VERSION) throw new VhdFormatError(`unsupported footer version 0x${version.toString(16)}`, at);
  return {
    dataOffset: buf.readBigUInt64BE(16),
    timestamp: buf.readUInt32BE(24),
    creatorApp: buf.toString('latin1', 28, 32),
    originalSize: Number(buf.readBigUInt64BE(40)),
    currentSize: Number(buf.readBigUInt64BE(48)),
    geometry: { cylinders: buf.readUInt16BE(56), heads: buf.readUInt8(58), sectorsPerTrack: buf.readUInt8(59) },
    diskType: buf.readUInt32BE(60),
    uuid: bytesToUuid(buf.subarray(68, 84)),
  };
}

export interface ParentLocator {
  platformCode: number;
  /** In bytes, decoded (stored in sectors by vhd-tool, in bytes by some Hyper-V files). */
  dataSpace: number;
  dataLength: number;
  dataOffset: number;
}

export interface VhdHeader {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  parentUuid: string;
  parentTimestamp: number;
  parentName: string;
  parentLocators: ParentLocator[];
}

/** The single locator vhd-tool writes for a parent: "file://<name>" at byte 1536, one sector reserved. */
export function vhdToolParentLocator(parentName: string): ParentLocator {
  return {
    platformCode: PLATFORM_MACX,
    dataSpace: SECTOR,
    dataLength: Buffer.byteLength(`file://${parentName}`),
    dataOffset: 1536,
  };
}

export function parentLocatorData(parentName: string): Buffer {
  return Buffer.from(`file://${parentName}`, 'utf8');
}

export function encodeHeader(h: {
  tableOffset: number;
  maxTableEntries: number;
  parentUuid?: string;
  parentTimestamp?: number;
  parentName?: string;
  parentLocators?: ParentLocator[];
}): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.write(HEADER_COOKIE, 0, 'latin1');
  buf.writeBigUInt64BE(0xffff_ffff_ffff_ffffn, 8);
  buf.writeBigUInt64BE(BigInt(h.tableOffset), 16);
  buf.writeUInt32BE(FORMAT_VERSION, 24);
  buf.writeUInt32BE(h.maxTableEntries, 28);
  buf.writeUInt32BE(BLOCK_SIZE, 32);
  uuidToBytes(h.parentUuid ?? NULL_UUID).copy(buf, 40);
  buf.writeUInt32BE(h.parentTimestamp ?? 0, 56);
  if (h.parentName) {
    const name = utf16be(h.parentName);
    if (name.length > 512) throw new VhdFormatError(`parent name "${h.parentName}" exceeds 256 UTF-16 units`);
    name.copy(buf, 64);
  }
  (h.parentLocators ?? []).slice(0, 8).forEach((l, i) => {
    const at = 576 + i * 24;
    buf.writeUInt32BE(l.platformCode, at);
    buf.writeUInt32BE(Math.ceil(l.dataSpace / SECTOR), at + 4);
    buf.writeUInt32BE(l.dataLength, at + 8);
    buf.writeBigUInt64BE(BigInt(l.dataOffset), at + 16);
  });
  buf.writeUInt32BE(vhdChecksum(buf, 36), 36);
  return buf;
}

export function decodeHeader(buf: Buffer, at: number): VhdHeader {
  if (buf.length < HEADER_SIZE) throw new VhdFormatError('dynamic header truncated', at);
  if (buf.toString('latin1', 0, 8) !== HEADER_COOKIE) throw new VhdFormatError('no "cxsparse" header cookie', at);
  if (vhdChecksum(buf.subarray(0, HEADER_SIZE), 36) !== buf.readUInt32BE(36))
    throw new VhdFormatError('dynamic header checksum mismatch', at);
  const blockSize = buf.readUInt32BE(32);
  if (blockSize === 0 || blockSize % SECTOR !== 0) throw new VhdFormatError(`bad block size ${blockSize}`, at);
  const locators: ParentLocator[] = [];
  for (let i = 0; i < 8; i++) {
    const o = 576 + i * 24;
    const platformCode = buf.readUInt32BE(o);
    if (platformCode === 0) continue;
    const space = buf.readUInt32BE(o + 4);
    locators.push({
      platformCode,
      dataSpace: space < 512 ? space * SECTOR : space,
      dataLength: buf.readUInt32BE(o + 8),
      dataOffset: Number(buf.readBigUInt64BE(o + 16)),
    });
  }
  return {
    tableOffset: Number(buf.readBigUInt64BE(16)),
    maxTableEntries: buf.readUInt32BE(28),
    blockSize,
    parentUuid: bytesToUuid(buf.subarray(40, 56)),
    parentTimestamp: buf.readUInt32BE(56),
    parentName: fromUtf16be(buf.subarray(64, 576)),
    parentLocators: locators,
  };
}

function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

function fromUtf16be(bytes: Buffer): string {
  const copy = Buffer.from(bytes);
  copy.swap16();
  const text = copy.toString('utf16le');
  const nul = text.indexOf('\0');
  return nul < 0 ? text : text.slice(0, nul);
}
