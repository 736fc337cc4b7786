import { CLUSTER_SIZE, type VirtualDisk } from '../disk/virtual-disk.js';
import { chunkChecksum, type ChecksumKind } from './chunk-checksum.js';
import { Pacer, type PaceOptions } from './pace.js';
import { encodeTarHeader, TAR_BLOCK, tarPadding } from './tar-header.js';

export interface XvaDisk {
  /** "Ref:<n>", the VDI's id in ova.xml and the directory of its chunks. */
  ref: string;
  disk: VirtualDisk;
}

export interface XvaExportOptions extends PaceOptions {
  /** Write `.checksum` (SHA-1) files as hosts before xxhash did. */
  oldHost?: boolean;
  /** Idle time after which a zero-length chunk is sent to keep firewalls quiet (default 5000; 0 disables). */
  keepaliveMs?: number;
  /** Sequence number of a chunk whose checksum file is written wrong (in every disk that has it). */
  corruptChecksumAtChunk?: number;
}

export const XVA_CHUNK_SIZE = 1024 * 1024;

/**
 * The /export body: an uncompressed tar with ova.xml first, then each disk (in the host's lexicographic order
 * of their refs) as numbered 1 MiB chunks, each followed by its checksum file. All-zero chunks are left out
 * except the first and last; after keepaliveMs without output a zero-length chunk takes the next number
 * without advancing the offset. Ends with two zero blocks and no record padding.
 */
export async function* xvaExport(
  ovaXml: string,
  disks: XvaDisk[],
  opts: XvaExportOptions = {},
): AsyncGenerator<Buffer> {
  const pacer = new Pacer(opts);
  const kind: ChecksumKind = opts.oldHost ? 'checksum' : 'xxhash';
  const keepaliveMs = opts.keepaliveMs !== undefined && opts.keepaliveMs <= 0 ? Infinity : (opts.keepaliveMs ?? 5000);
  let lastOutput = performance.now();

  const xml = Buffer.from(ovaXml, 'utf8');
  await pacer.produce(xml.length);
  yield Buffer.concat([
    encodeTarHeader('ova.xml', xml.length, Math.floor(Date.now() / 1000)),
    xml,
    Buffer.alloc(tarPadding(xml.length)),
  ]);
  lastOutput = performance.now();

  const ordered = [...disks].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  for (const { ref, disk } of ordered) {
    let chunkNo = 0;
    for (let offset = 0; offset < disk.size; offset += XVA_CHUNK_SIZE) {
      const length = Math.min(XVA_CHUNK_SIZE, disk.size - offset);
      const firstOrLast = chunkNo === 0 || offset + length >= disk.size;
      // A host on a VHD-based SR knows unallocated blocks from the BAT and skips them without reading; so do
      // we (a 100 GiB disk with 1 GiB of data exports in the time of 1 GiB).
      if (!firstOrLast && !anyClusterAllocated(disk, offset, length)) {
        chunkNo++;
        continue;
      }
      pacer.schedule(length);
      for (;;) {
        const idleFor = performance.now() - lastOutput;
        if (!firstOrLast && idleFor >= keepaliveMs) {
          yield* chunkFile(ref, chunkNo++, Buffer.alloc(0), kind, opts.corruptChecksumAtChunk);
          lastOutput = performance.now();
          continue;
        }
        const ready = await pacer.waitReady(firstOrLast ? Infinity : keepaliveMs - idleFor);
        if (ready) break;
      }
      const data = await disk.read(offset, length);
      if (firstOrLast || !isAllZero(data)) {
        yield* chunkFile(ref, chunkNo, data, kind, opts.corruptChecksumAtChunk);
        lastOutput = performance.now();
      }
      chunkNo++;
    }
  }
  pacer.checkAborted();
  yield Buffer.alloc(2 * TAR_BLOCK);
}

function anyClusterAllocated(disk: VirtualDisk, offset: number, length: number): boolean {
  for (let c = Math.floor(offset / CLUSTER_SIZE); c * CLUSTER_SIZE < offset + length; c++)
    if (disk.isClusterAllocated(c)) return true;
  return false;
}

async function* chunkFile(
  ref: string,
  chunkNo: number,
  data: Buffer,
  kind: ChecksumKind,
  corruptAt: number | undefined,
): AsyncGenerator<Buffer> {
  const name = `${ref}/${String(chunkNo).padStart(8, '0')}`;
  yield encodeTarHeader(name, data.length);
  if (data.length > 0) yield data;
  const padding = tarPadding(data.length);
  let sum = await chunkChecksum(kind, data);
  if (chunkNo === corruptAt) sum = corrupt(sum);
  const sumBytes = Buffer.from(sum, 'latin1');
  // One piece for padding + checksum file: a few hundred bytes, not worth separate yields.
  yield Buffer.concat([
    Buffer.alloc(padding),
    encodeTarHeader(`${name}.${kind}`, sumBytes.length),
    sumBytes,
    Buffer.alloc(tarPadding(sumBytes.length)),
  ]);
}

/** Changes the first hex digit, keeping the checksum's form (length, case) intact. */
function corrupt(sum: string): string {
  const first = sum[0] === '0' ? '1' : '0';
  return first + sum.slice(1);
}

const ZERO_CHUNK = Buffer.alloc(XVA_CHUNK_SIZE);

function isAllZero(data: Buffer): boolean {
  return data.equals(ZERO_CHUNK.subarray(0, data.length));
}
