import { SluiceError } from '../errors/sluice-error.js';
import { KEY_BYTES, xoKeyOf } from '../formats/xo-encryption/xo-cipher.js';

/**
 * The keys of encrypted remotes this process was given, by location: the CLI's --encryption-key-file for its
 * --remote, the engine's saved remotes from the secret store. Every remote opened by location
 * (`openRemote`) takes its key from here, so the repository code, which names remotes by location, reads and
 * writes an encrypted remote without knowing it is one. Keys stay in this process's memory only.
 */
const keys = new Map<string, Buffer>();
let lookUp: ((location: string) => Promise<Buffer | undefined>) | undefined;

export function setRemoteKey(location: string, key: Buffer | undefined): void {
  if (key) keys.set(location, key);
  else keys.delete(location);
}

/** Where keys given to no location above are looked up, when a remote is first used (the engine's saved remotes). */
export function setRemoteKeyLookup(source: ((location: string) => Promise<Buffer | undefined>) | undefined): void {
  lookUp = source;
}

/** The key of a location: the one given, or a lookup for when the remote is first used. */
export function remoteKeyOf(location: string): Buffer | (() => Promise<Buffer | undefined>) {
  const given = keys.get(location);
  if (given) return given;
  return async () => keys.get(location) ?? (await lookUp?.(location));
}

/**
 * The key an admin wrote down, as Xen Orchestra takes it: 32 characters (their UTF-8 bytes), used as they
 * are. A key file may end with one line break, which is not part of the key.
 */
export function parseRemoteKey(text: string, from?: string): Buffer {
  const key = xoKeyOf(text.replace(/\r?\n$/, ''));
  if (key) return key;
  throw new SluiceError(
    'VALIDATION',
    `The encryption key${from ? ` in ${from}` : ''} is not ${KEY_BYTES} characters long.`,
    {
      hint: `An encrypted remote's key is exactly ${KEY_BYTES} characters (ASCII letters, digits or signs), as Xen Orchestra asks for.`,
      issues: [{ path: 'encryptionKey', message: `Exactly ${KEY_BYTES} characters` }],
    },
  );
}

/** Where the secret store keeps a saved remote's key (never the settings file). */
export function remoteKeySecretId(remoteId: string): string {
  return `remote-encryption-key:${remoteId}`;
}
