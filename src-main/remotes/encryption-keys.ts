import { SluiceError } from '../errors/sluice-error.js';
import { KEY_BYTES, xoKeyOf } from '../formats/xo-encryption/xo-cipher.js';

/**
 * The keys of encrypted remotes this process was given, by location: the CLI's --encryption-key-file for its
 * --remote, the engine's saved remotes from the secret store. Every remote opened by location
 * (`openRemote`) takes its key from here, so the repository code, which names remotes by location, reads and
 * writes an encrypted remote without knowing it is one. Keys stay in this process's memory only.
 */
const keys = new Map<string, Buffer>();

export function setRemoteKey(location: string, key: Buffer | undefined): void {
  if (key) keys.set(location, key);
  else keys.delete(location);
}

export function remoteKeyOf(location: string): Buffer | undefined {
  return keys.get(location);
}

/**
 * The key an admin wrote down, as Xen Orchestra takes it: 32 characters (their UTF-8 bytes), used as they
 * are. A key file may end with one line break, which is not part of the key.
 */
export function parseRemoteKey(text: string, from: string): Buffer {
  const key = xoKeyOf(text.replace(/\r?\n$/, ''));
  if (key) return key;
  throw new SluiceError('VALIDATION', `The encryption key in ${from} is not ${KEY_BYTES} characters long.`, {
    hint: `An encrypted remote's key is exactly ${KEY_BYTES} characters (ASCII letters, digits or signs), as Xen Orchestra asks for.`,
    context: { field: from },
  });
}
