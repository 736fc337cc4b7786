import { promises as fs } from 'node:fs';
import { SluiceError } from '../errors/sluice-error.js';
import { parseRemoteKey, setRemoteKey } from '../remotes/encryption-keys.js';
import { openExistingRemote } from '../remotes/remote-registry.js';
import type { Remote } from '../remotes/remote.js';

/** The flag every command that takes --remote takes for an encrypted one: a file, never the key on argv. */
export const ENCRYPTION_KEY_OPTION = { 'encryption-key-file': { type: 'string' } } as const;

export const ENCRYPTION_KEY_HELP = `  --encryption-key-file FILE   the key of an encrypted remote: a file holding its 32 characters (chmod 600)`;

/**
 * The --remote of a command, with its key when it is encrypted: the key is read from its file (never from the
 * command line, which other users can see in the process list) and held for that location for the rest of
 * the command, so every part of it opens the remote with the key. The key is proven here, before anything.
 * With the data folder, an unmounted share is refused (and, `forWriting`, the remote marked: remote-marker.ts).
 */
export async function openCliRemote(
  location: string,
  keyFile: string | undefined,
  opts: { dataDir?: string; forWriting?: boolean } = {},
): Promise<Remote> {
  if (keyFile !== undefined) setRemoteKey(location, parseRemoteKey(await readKeyFile(keyFile), keyFile));
  return openExistingRemote(location, opts);
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new SluiceError(
      'VALIDATION',
      `Cannot read the encryption key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
      {
        hint: "Put the remote's key (32 characters) alone in a file readable only by you (chmod 600), and pass its path.",
      },
    );
  }
}
