import { createGunzip } from 'node:zlib';
import { SluiceError } from '../errors/sluice-error.js';
import { startsWithGzip, startsWithZstd } from '../formats/compression-magic.js';
import { ovaDisks, parseOvaXml, type OvaDisk, type OvaObject } from '../formats/ova-xml.js';
import { readXvaChunks } from '../formats/xva/xva-disk-reader.js';
import { xvaKeyOf } from './point-file-keys.js';
import type { BackupPoint } from './repository-reader.js';

// Reading the disks of a full point (an XVA) for exports and single-disk restores. gzip is undone on the
// fly; a zstd XVA can only be restored whole (the host decompresses it), which the error says.

/** The XVA's file as the remote shows it (a local path on a folder remote), confined to the VM folder. */
export function xvaPathOf(point: BackupPoint): string {
  return point.remote.displayPath(xvaKeyOf(point));
}

export interface FullXvaFile {
  key: string;
  /** As the remote shows it, for messages. */
  path: string;
  size: number;
  zstd: boolean;
  /** zstd or gzip, from the file's first bytes. */
  compressed: boolean;
}

/**
 * A full point's XVA as verify, restore and export first need it: where it is, how large, whether compressed.
 * A missing XVA is said as such (the point cannot be used), for all three alike.
 */
export async function fullXvaFile(point: BackupPoint): Promise<FullXvaFile> {
  const key = xvaKeyOf(point);
  const path = point.remote.displayPath(key);
  const stat = await point.remote.stat(key);
  if (stat?.kind !== 'file')
    throw new SluiceError('REMOTE_ERROR', `The XVA ${path} of ${point.vmName} ${point.id} is missing.`, {
      hint: 'Restore the file from a copy of the repository, or delete this point.',
      context: { vm: point.vmName, point: point.id, file: path },
    });
  const head = await point.remote.readRange(key, 0, 4);
  const zstd = startsWithZstd(head);
  return { key, path, size: stat.size, zstd, compressed: zstd || startsWithGzip(head) };
}

/** The plain (uncompressed) bytes of a full point's XVA. */
export async function openPlainXva(point: BackupPoint, purpose: string): Promise<AsyncIterable<Buffer>> {
  const { key, path: file, zstd, compressed } = await fullXvaFile(point);
  if (zstd) {
    throw new SluiceError(
      'VALIDATION',
      `${point.vmName} ${point.id} is a zstd-compressed XVA: Sluice cannot ${purpose} from it yet.`,
      {
        hint: 'Restore the whole VM (the host decompresses the XVA itself), or use a point backed up without compression.',
        context: { vm: point.vmName, point: point.id, file },
      },
    );
  }
  const stream = await point.remote.createReadStream(key);
  return (compressed ? stream.pipe(createGunzip()) : stream) as AsyncIterable<Buffer>;
}

/** The objects and disks a full point's ova.xml lists (only the start of the XVA is read). */
export async function fullPointDisks(point: BackupPoint): Promise<{ objects: OvaObject[]; disks: OvaDisk[] }> {
  const source = await openPlainXva(point, 'read the disks');
  for await (const event of readXvaChunks(source)) {
    if (event.kind !== 'ova') break;
    const { objects } = parseOvaXml(event.xml);
    (source as { destroy?: () => void }).destroy?.();
    return { objects, disks: ovaDisks(objects).map((d) => ({ ...d })) };
  }
  throw new SluiceError(
    'REMOTE_ERROR',
    `The backup ${point.vmName} ${point.id} is damaged: its XVA does not start with ova.xml.`,
    { context: { file: xvaPathOf(point) } },
  );
}

/** The raw content of one disk of the XVA, zeros included, checked chunk by chunk as it is read. */
export async function* xvaDiskRaw(source: AsyncIterable<Buffer>, ref: string, size: number): AsyncGenerator<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  let at = 0;
  const fill = function* (to: number): Generator<Buffer> {
    while (at < to) {
      const n = Math.min(zeros.length, to - at);
      at += n;
      yield zeros.subarray(0, n);
    }
  };
  for await (const event of readXvaChunks(source)) {
    if (event.kind !== 'chunk' || event.ref !== ref) continue;
    yield* fill(event.offset);
    yield event.data;
    at = event.offset + event.data.length;
  }
  yield* fill(size);
}
