import { createHash, type Hash } from 'node:crypto';
import type { Remote } from '../remotes/remote.js';
import { SluiceError } from '../errors/sluice-error.js';

// XO writes `<ts>.xva.checksum` as `$N$$<hex digest>`, N naming the algorithm as crypt(3) does. Sluice writes
// sha256; it reads all three, so it restores and verifies XO's points too.
const ALGORITHMS: Record<string, string> = { '1': 'md5', '5': 'sha256', '6': 'sha512' };

// A real checksum file is one line of at most ~140 bytes; anything far larger is not one, and is never read whole.
const CHECKSUM_MAX_BYTES = 4096;

export type XvaChecksumFile =
  | { state: 'absent'; path: string }
  /** There, but not in the `$N$$<hex>` form (or not readable): the checksum file itself is damaged. */
  | { state: 'unreadable'; path: string }
  | { state: 'present'; path: string; algorithm: string; expectedHex: string; hash: () => Hash };

/**
 * The checksum file of a full point's XVA, read through the remote (so it is confined to the repository like
 * every other read) and parsed once for restore, export and verify alike.
 */
export async function readXvaChecksumFile(remote: Remote, xvaKey: string): Promise<XvaChecksumFile> {
  const key = `${xvaKey}.checksum`;
  const path = remote.displayPath(key);
  let bytes: Buffer | undefined;
  try {
    bytes = await remote.readIfExists(key, { maxBytes: CHECKSUM_MAX_BYTES });
  } catch {
    return { state: 'unreadable', path };
  }
  if (bytes === undefined) return { state: 'absent', path };
  const m = /^\$(\d)\$\$([0-9a-f]+)\s*$/.exec(bytes.toString('utf8'));
  const algorithm = m ? ALGORITHMS[m[1]!] : undefined;
  if (!m || !algorithm) return { state: 'unreadable', path };
  return { state: 'present', path, algorithm, expectedHex: m[2]!, hash: () => createHash(algorithm) };
}

/**
 * Which file to blame when an XVA's bytes do not hash to its checksum file. A plain XVA whose every chunk
 * verified against its own checksums has intact disk data, and its tar headers and padding are checked too;
 * but its ova.xml (the VM's description: disks, sizes, which chunks are whose) has no checksum of its own, so
 * the mismatch is either that or the checksum file, and a flipped bit is more likely in the larger of the
 * two. Both are named; the point is refused either way, since a changed ova.xml could restore other disks.
 * A compressed XVA cannot tell which of the two changed at all.
 */
export function xvaChecksumMismatch(
  point: string,
  checksumPath: string,
  compressed: boolean,
  context: Record<string, string>,
): SluiceError {
  const xva = checksumPath.replace(/\.checksum$/, '');
  if (!compressed)
    return new SluiceError(
      'REMOTE_ERROR',
      `The checksum file ${checksumPath} of ${point} does not match the XVA ${xva}, whose every chunk verifies against its own checksums: either the checksum file or the XVA's ova.xml (the VM's description, the one part without a checksum of its own) changed since they were written.`,
      {
        hint: "The disk data is intact, but a changed ova.xml could restore the VM with other disks or sizes. Compare both files with a copy of the repository if there is one; otherwise use another point, and check the remote's disk.",
        context: { ...context, file: checksumPath, xva },
        damage: { kind: 'file-checksum', file: checksumPath },
      },
    );
  return new SluiceError(
    'REMOTE_ERROR',
    `The backup ${point} does not match its checksum file ${checksumPath}: either the XVA or the checksum file changed after they were written (the XVA is compressed, so the damage cannot be located inside it).`,
    {
      hint: "This point cannot be trusted; use another point and check the remote's disk.",
      context: { ...context, file: xva, checksumFile: checksumPath },
      damage: { kind: 'file-checksum', file: xva },
    },
  );
}

/**
 * A checksum file that is not in the `$N$$<hex>` form is itself damaged: verify, restore and export refuse the
 * point and name the file, rather than skip it (then a compressed XVA would not be checked at all) or blame
 * the XVA.
 */
export function unreadableXvaChecksum(
  point: string,
  checksumPath: string,
  compressed: boolean,
  context: Record<string, string>,
): SluiceError {
  return new SluiceError(
    'REMOTE_ERROR',
    `The checksum file ${checksumPath} of ${point} is damaged: it is not in XO's \`$N$$<hex digest>\` form.`,
    {
      hint: compressed
        ? 'The XVA itself was not judged, and being compressed it has no other check. Restore the checksum file from a copy of the repository, or use another point.'
        : "The XVA itself was not judged. Restore the checksum file from a copy of the repository, or remove it and try again (then only the XVA's own chunk checksums are checked).",
      context: { ...context, file: checksumPath },
      damage: { kind: 'checksum-format', file: checksumPath },
    },
  );
}
