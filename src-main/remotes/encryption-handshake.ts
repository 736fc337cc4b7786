import { randomUUID } from 'node:crypto';
import { SluiceError } from '../errors/sluice-error.js';
import { FormatError } from '../formats/format-error.js';
import {
  DEFAULT_XO_ALGORITHM,
  decryptFile,
  encryptFile,
  isXoAlgorithm,
  type XoAlgorithm,
} from '../formats/xo-encryption/xo-cipher.js';
import type { Remote } from './remote.js';

// XO's two files at the root of a remote (@xen-orchestra/fs `abstract.js`, docs/encryption.md):
// - `encryption.json`, never encrypted: `{"algorithm":"chacha20-poly1305"}` (or "aes-256-gcm", or "none");
// - `metadata.json`, encrypted with the remote's key: `{"random":"<uuid>"}`. It holds nothing else: it proves
//   a key before anything is read or written (a wrong key fails its authentication).
// Both are written when an encrypted remote is used for the first time, on an empty remote only: every other
// file is encrypted, so encryption is turned on, or the key changed, only where there is nothing yet.

export const ENCRYPTION_FILE = 'encryption.json';
export const ENCRYPTION_METADATA_FILE = 'metadata.json';

/** The two files of the handshake: at the top of the remote, not part of the repository. */
export function isHandshakeFile(key: string): boolean {
  return key === ENCRYPTION_FILE || key === ENCRYPTION_METADATA_FILE;
}

export type RemoteEncryption = { algorithm: 'none' } | { algorithm: XoAlgorithm; key: Buffer };

const KEY_HINT =
  'From the command line give the key with --encryption-key-file FILE (a file holding the 32 characters); ' +
  "in the app, the saved remote's key.";

/**
 * How a remote is encrypted, proven with the key given (undefined: none given). Throws, with the remote's
 * name, before anything is written: a key that does not open the remote, an encrypted remote with no key,
 * and a key for a remote that holds files that are not encrypted. An empty remote given a key becomes an
 * encrypted one (`create`: XO's default algorithm unless told).
 */
export async function proveEncryption(
  remote: Remote,
  key: Buffer | undefined,
  opts: { algorithm?: XoAlgorithm } = {},
): Promise<RemoteEncryption> {
  const described = await readEncryptionFile(remote);
  if (key === undefined) {
    if (described === undefined || described === 'none') return { algorithm: 'none' };
    throw new SluiceError(
      'UNAUTHORIZED',
      `The remote ${remote.label} is encrypted (${described}): Sluice needs its key.`,
      {
        hint: `${KEY_HINT} Without the key, nothing on it can be read.`,
        context: { remote: remote.label },
      },
    );
  }
  if (described !== undefined && described !== 'none') {
    const metadata = await remote.readIfExists(ENCRYPTION_METADATA_FILE, { maxBytes: 64 * 1024 });
    if (metadata !== undefined) {
      checkKey(remote, described, key, metadata);
      return { algorithm: described, key };
    }
    // encryption.json without metadata.json: a first use cut short between the two (or XO's own order).
  }
  if (!(await holdsNothing(remote))) {
    throw new SluiceError(
      'VALIDATION',
      described === undefined || described === 'none'
        ? `The remote ${remote.label} holds files that are not encrypted: it cannot be used as an encrypted remote.`
        : `The remote ${remote.label} has no ${ENCRYPTION_METADATA_FILE}, so no key can be proven on it.`,
      {
        hint:
          described === undefined || described === 'none'
            ? 'Encryption is turned on only for an empty remote (every file on it is encrypted): give an empty folder, or use this one without a key.'
            : `Restore ${ENCRYPTION_METADATA_FILE} from a copy of the remote; nothing was changed.`,
        context: { remote: remote.label },
      },
    );
  }
  const algorithm = opts.algorithm ?? DEFAULT_XO_ALGORITHM;
  // metadata.json first: a crash before encryption.json leaves a remote that is still "empty" and is set up
  // again on its next use, never an encryption.json without the proof of its key.
  await remote.overwrite(
    ENCRYPTION_METADATA_FILE,
    encryptFile(algorithm, key, Buffer.from(JSON.stringify({ random: randomUUID() }))),
  );
  await remote.overwrite(ENCRYPTION_FILE, JSON.stringify({ algorithm }));
  await remote.syncFolder('');
  return { algorithm, key };
}

async function readEncryptionFile(remote: Remote): Promise<XoAlgorithm | 'none' | undefined> {
  const raw = await remote.readIfExists(ENCRYPTION_FILE, { maxBytes: 4096 });
  if (raw === undefined) return undefined;
  let algorithm: unknown;
  try {
    algorithm = (JSON.parse(raw.toString('utf8')) as { algorithm?: unknown }).algorithm;
  } catch {
    algorithm = undefined;
  }
  if (algorithm === 'none' || isXoAlgorithm(algorithm)) return algorithm;
  throw new SluiceError(
    'REMOTE_ERROR',
    typeof algorithm === 'string'
      ? `The remote ${remote.label} is encrypted with ${algorithm}, which Sluice does not know.`
      : `The ${ENCRYPTION_FILE} of the remote ${remote.label} is damaged: it does not name an algorithm.`,
    {
      hint: 'Sluice reads chacha20-poly1305 and aes-256-gcm, as Xen Orchestra writes them. Nothing was changed.',
      context: { remote: remote.label, file: remote.displayPath(ENCRYPTION_FILE) },
    },
  );
}

function checkKey(remote: Remote, algorithm: XoAlgorithm, key: Buffer, metadata: Buffer): void {
  try {
    JSON.parse(decryptFile(algorithm, key, metadata).toString('utf8'));
  } catch (err) {
    throw new SluiceError('UNAUTHORIZED', `The key given does not open the encrypted remote ${remote.label}.`, {
      hint:
        `Its ${ENCRYPTION_METADATA_FILE} does not decrypt with that key: check that it is the key this remote was ` +
        'created with (32 characters, exactly as written down). Nothing was read or written. ' +
        (err instanceof FormatError && err.damage === 'truncated' ? `(${ENCRYPTION_METADATA_FILE} is cut short.)` : ''),
      context: { remote: remote.label },
    });
  }
}

/** Nothing but dot-named files (probes, temp files) and the handshake's own: XO's test of an empty remote. */
async function holdsNothing(remote: Remote): Promise<boolean> {
  return (await remote.list('')).every((e) => e.name.startsWith('.') || isHandshakeFile(e.name));
}
