/** XO's key: 32 characters, used as their 32 bytes (so ASCII). */
export const KEY_LENGTH = 32;

/** The key's length as the engine counts it: its UTF-8 bytes. */
export function keyLengthOf(key: string): number {
  return new TextEncoder().encode(key).length;
}

// No 0/O, 1/l/I: a key is copied by hand onto paper and typed back.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random key from the browser's CSPRNG, rejection-sampled so that every character is equally likely. */
export function newRemoteKey(): string {
  let out = '';
  const bytes = new Uint8Array(64);
  while (out.length < KEY_LENGTH) {
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < 256 - (256 % ALPHABET.length) && out.length < KEY_LENGTH) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}
