import { createHash, type Hash } from 'node:crypto';
import { readTextIfExists } from '../core/optional-file.js';

// XO writes `<ts>.xva.checksum` as `$N$$<hex digest>`, N naming the algorithm as crypt(3) does. Sluice writes
// sha256; it reads all three, so it restores and verifies XO's points too.
const ALGORITHMS: Record<string, string> = { '1': 'md5', '5': 'sha256', '6': 'sha512' };

export type XvaChecksumFile =
  | { state: 'absent'; path: string }
  /** There, but not in the `$N$$<hex>` form: the checksum file itself is damaged. */
  | { state: 'unreadable'; path: string }
  | { state: 'present'; path: string; algorithm: string; expectedHex: string; hash: () => Hash };

/** The checksum file of a full point's XVA, read and parsed once for restore, export and verify alike. */
export async function readXvaChecksumFile(xvaPath: string): Promise<XvaChecksumFile> {
  const path = `${xvaPath}.checksum`;
  const text = await readTextIfExists(path).catch(() => undefined);
  if (text === undefined) return { state: 'absent', path };
  const m = /^\$(\d)\$\$([0-9a-f]+)\s*$/.exec(text);
  const algorithm = m ? ALGORITHMS[m[1]!] : undefined;
  if (!m || !algorithm) return { state: 'unreadable', path };
  return { state: 'present', path, algorithm, expectedHex: m[2]!, hash: () => createHash(algorithm) };
}
