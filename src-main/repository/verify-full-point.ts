import { SluiceError } from '../errors/sluice-error.js';
import { XvaStreamVerifier, XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import { describeFsError } from '../errors/fs-errors.js';
import type { BackupPoint } from './repository-reader.js';
import { readXvaChecksumFile, unreadableXvaChecksum, xvaChecksumMismatch } from './xva-checksum-file.js';
import { fullXvaFile } from './full-point-reader.js';

export interface VerifyProgress {
  bytesRead: number;
  totalBytes: number;
}

/**
 * Re-reads a full point: every XVA chunk checksum and the tar structure, and the file's own checksum file
 * ($1$/$5$/$6$ as XO writes them). A damaged point is named with the file and byte offset. A compressed XVA is
 * checked against its checksum file only (its chunks are not read inside the compression); without one it is
 * reported as not checked (`unchecked`), never as good.
 */
export async function verifyFullPoint(
  point: BackupPoint,
  onProgress?: (p: VerifyProgress) => void,
  signal?: AbortSignal,
): Promise<{ bytes: number; unchecked: string[] }> {
  if (point.metadata.mode !== 'full') throw new Error('verifyFullPoint: not a full point');
  const remote = point.remote;
  const { key, path: xva, size, compressed } = await fullXvaFile(point);
  const checksum = await readXvaChecksumFile(remote, key);
  const checksumFile = checksum.path;
  if (checksum.state === 'unreadable') {
    throw unreadableXvaChecksum(`${point.vmName} ${point.id}`, checksumFile, compressed, { vm: point.vmName });
  }
  const hash = checksum.state === 'present' ? checksum.hash() : undefined;
  const verifier = compressed ? undefined : await XvaStreamVerifier.create();
  let read = 0;
  let lastReport = 0;
  try {
    for await (const chunk of await remote.createReadStream(key)) {
      if (signal?.aborted)
        throw new SluiceError('CANCELLED', `The verify of ${point.vmName} ${point.id} was cancelled.`, {
          context: { vm: point.vmName, point: point.id },
        });
      const b = chunk as Buffer;
      verifier?.update(b);
      hash?.update(b);
      read += b.length;
      if (onProgress && read - lastReport >= 64 * 1024 * 1024) {
        lastReport = read;
        onProgress({ bytesRead: read, totalBytes: size });
      }
    }
    verifier?.finish();
  } catch (err) {
    if (err instanceof XvaVerifyError) {
      throw new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${err.message}`, {
        hint: "This point cannot be restored safely; use an earlier or later point, and check the remote's disk.",
        context: {
          vm: point.vmName,
          file: xva,
          offset: String(err.offset),
          ...(err.entry ? { entry: err.entry } : {}),
        },
      });
    }
    if (err instanceof SluiceError) throw err;
    throw describeFsError(err, xva, 'read');
  }
  onProgress?.({ bytesRead: read, totalBytes: size });
  if (checksum.state === 'present' && hash && hash.digest('hex') !== checksum.expectedHex) {
    throw xvaChecksumMismatch(`${point.vmName} ${point.id}`, checksumFile, compressed, { vm: point.vmName });
  }
  // On an encrypted remote the file's tag, checked as it was read to its end, authenticated all of it.
  return { bytes: read, unchecked: compressed && !hash && !remote.encrypted ? [xva] : [] };
}
