import { SluiceError, type Damage } from '../errors/sluice-error.js';
import { XvaStreamVerifier, XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import type { fullXvaFile } from '../repository/index.js';
import {
  readXvaChecksumFile,
  unreadableXvaChecksum,
  xvaChecksumMismatch,
  type BackupPoint,
} from '../repository/index.js';

type XvaFile = Awaited<ReturnType<typeof fullXvaFile>>;

/** The checks a stored XVA passes on its way to the host, as the upload's `inspect` and `beforeFinish`. */
export interface XvaUploadChecks {
  inspect(chunk: Buffer): void;
  beforeFinish(): void;
}

/**
 * Every chunk checksum of a plain XVA before its bytes leave, and the whole file against its checksum file
 * before the body is ended. An unreadable checksum file is refused here, before anything reaches the host.
 */
export async function xvaUploadChecks(
  point: BackupPoint,
  file: XvaFile,
  context: Record<string, string>,
): Promise<XvaUploadChecks> {
  const { key, path: xva, size, compressed } = file;
  const verifier = compressed ? undefined : await XvaStreamVerifier.create();
  const checksum = await readXvaChecksumFile(point.remote, key);
  if (checksum.state === 'unreadable') {
    // As verify says it, before anything reaches the host: skipping it would leave a zstd XVA unchecked.
    throw unreadableXvaChecksum(`${point.vmName} ${point.id}`, checksum.path, compressed, context);
  }
  const hash = checksum.state === 'present' ? checksum.hash() : undefined;
  const damaged = (message: string, damage: Omit<Damage, 'file'>, extra: Record<string, string>, cause?: unknown) =>
    new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${message}`, {
      hint: "This point cannot be restored safely; use another point, and check the remote's disk.",
      context: { ...context, ...extra },
      damage: { ...damage, file: xva },
      cause,
    });

  let seen = 0;
  const finalChecks = () => {
    try {
      verifier?.finish();
    } catch (err) {
      if (err instanceof XvaVerifyError) throw damaged(err.message, { kind: err.damage, offset: err.offset }, {}, err);
      throw err;
    }
    if (checksum.state === 'present' && hash && hash.digest('hex') !== checksum.expectedHex) {
      throw xvaChecksumMismatch(`${point.vmName} ${point.id}`, checksum.path, compressed, context);
    }
  };
  return {
    inspect: (chunk) => {
      hash?.update(chunk);
      try {
        verifier?.update(chunk);
      } catch (err) {
        if (err instanceof XvaVerifyError)
          throw damaged(
            `${err.message}${err.entry ? ` in ${err.entry}` : ''} (byte ${err.offset})`,
            { kind: err.damage, offset: err.offset },
            err.entry ? { entry: err.entry } : {},
            err,
          );
        throw err;
      }
      seen += chunk.length;
      // The whole-file checks run on the last chunk, before it leaves: once the host has every byte of
      // the Content-Length it finishes the import whatever we do next.
      if (seen >= size) finalChecks();
    },
    beforeFinish: () => {
      if (seen < size) finalChecks();
    },
  };
}
