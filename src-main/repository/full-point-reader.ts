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

/** The plain (uncompressed) bytes of a full point's XVA. */
export async function openPlainXva(point: BackupPoint, purpose: string): Promise<AsyncIterable<Buffer>> {
  const key = xvaKeyOf(point);
  const file = point.remote.displayPath(key);
  const head = await point.remote.readRange(key, 0, 4);
  if (startsWithZstd(head)) {
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
  return (startsWithGzip(head) ? stream.pipe(createGunzip()) : stream) as AsyncIterable<Buffer>;
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
