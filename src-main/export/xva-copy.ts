import { startsWithGzip, startsWithZstd } from '../formats/compression-magic.js';
import { XvaStreamVerifier } from '../formats/xva/xva-stream-verifier.js';
import type { AtomicFile } from '../core/atomic-file.js';
import { fullXvaFile, xvaKeyOf, xvaPathOf, type BackupPoint } from '../repository/index.js';
import { describeFsError } from '../errors/fs-errors.js';
import { readXvaChecksumFile, unreadableXvaChecksum, xvaChecksumMismatch } from '../repository/index.js';

/**
 * A full point's XVA copied out as it is stored (compressed ones stay compressed: hosts and XO read them),
 * every chunk checksum of a plain XVA and the file's checksum file checked on the way, into `file`'s temp
 * file; the caller seals and places it (it appears under its name only when complete and verified).
 */
export async function copyFullXva(
  point: BackupPoint,
  file: AtomicFile,
  counters: { bytesRead: number; bytesWritten: number },
  signal?: AbortSignal,
): Promise<number> {
  const out = file.finalPath;
  const key = xvaKeyOf(point);
  const context = { vm: point.vmName, point: point.id };
  const source = xvaPathOf(point);
  const checksum = await readXvaChecksumFile(point.remote, key);
  if (checksum.state === 'unreadable') {
    const { compressed } = await fullXvaFile(point);
    throw unreadableXvaChecksum(`${point.vmName} ${point.id}`, checksum.path, compressed, context);
  }
  const hash = checksum.state === 'present' ? checksum.hash() : undefined;
  let verifier: XvaStreamVerifier | undefined;
  let at = 0;
  const stream = await point.remote.createReadStream(key).catch((e) => {
    throw describeFsError(e, source, 'read');
  });
  for await (const piece of stream as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    if (at === 0 && !(startsWithZstd(piece) || startsWithGzip(piece))) verifier = await XvaStreamVerifier.create();
    verifier?.update(piece);
    hash?.update(piece);
    counters.bytesRead += piece.length;
    await file.handle.write(piece, 0, piece.length, at).catch((e) => {
      throw describeFsError(e, out, 'write');
    });
    at += piece.length;
    counters.bytesWritten = at;
  }
  verifier?.finish();
  if (checksum.state === 'present' && hash && hash.digest('hex') !== checksum.expectedHex) {
    throw xvaChecksumMismatch(`${point.vmName} ${point.id}`, checksum.path, verifier === undefined, context);
  }
  return at;
}
