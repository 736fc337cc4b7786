import { KEY_LENGTH, keyLengthOf } from './remote-key-text.js';

/** The encryption part of the add-remote form (EncryptionKeyFields), for either kind of remote. */
export interface EncryptionKeyState {
  enabled: boolean;
  key: string;
  writtenDown: boolean;
}

export const NO_ENCRYPTION: EncryptionKeyState = { enabled: false, key: '', writtenDown: false };

/** What the form sends: the key only when encryption is on, and nothing is sent until it is written down. */
export function encryptionProblem(s: EncryptionKeyState): string | undefined {
  if (!s.enabled) return undefined;
  if (keyLengthOf(s.key) !== KEY_LENGTH) return `The key must be exactly ${KEY_LENGTH} characters.`;
  if (!s.writtenDown) return 'Write the key down first, then tick the box.';
  return undefined;
}
