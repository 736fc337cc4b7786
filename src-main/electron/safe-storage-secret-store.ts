import path from 'node:path';
import { safeStorage } from 'electron';
import { writeFileDurably } from '../core/durable-file.js';
import { readJsonIfExists } from '../core/optional-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { SecretStore } from '../secrets/secret-store.js';

/**
 * Host passwords sealed by the OS keychain (Keychain, DPAPI, libsecret/kwallet). On Linux without a keyring,
 * Electron falls back to a hard-coded key ("basic_text"), which is no protection at all: we refuse it unless
 * the user explicitly accepted the risk, and say how to fix it.
 */
export class SafeStorageSecretStore implements SecretStore {
  private readonly file: string;
  constructor(
    userDataDir: string,
    private readonly allowPlaintextBackend = false,
  ) {
    this.file = path.join(userDataDir, 'secrets.safe.json');
  }

  private check(): void {
    if (!safeStorage.isEncryptionAvailable()) {
      throw new SluiceError('INTERNAL', 'The operating system offers no secure storage for passwords right now.', {
        hint: 'Unlock your keyring (or log in to a desktop session) and try again.',
      });
    }
    if (
      process.platform === 'linux' &&
      safeStorage.getSelectedStorageBackend() === 'basic_text' &&
      !this.allowPlaintextBackend
    ) {
      throw new SluiceError(
        'INTERNAL',
        'No keyring (GNOME Keyring or KWallet) is running, so passwords could only be stored with a publicly known key.',
        {
          hint: 'Install and start gnome-keyring or kwallet, or accept plaintext storage in Settings (not recommended).',
        },
      );
    }
  }

  private async read(): Promise<Record<string, string>> {
    return ((await readJsonIfExists(this.file)) as Record<string, string> | undefined) ?? {};
  }

  private async write(doc: Record<string, string>): Promise<void> {
    await writeFileDurably(this.file, JSON.stringify(doc), { mode: 0o600, replace: true });
  }

  async get(id: string): Promise<string | undefined> {
    const sealed = (await this.read())[id];
    if (sealed === undefined) return undefined;
    this.check();
    return safeStorage.decryptString(Buffer.from(sealed, 'base64'));
  }

  async set(id: string, value: string): Promise<void> {
    this.check();
    const doc = await this.read();
    doc[id] = safeStorage.encryptString(value).toString('base64');
    await this.write(doc);
  }

  async delete(id: string): Promise<void> {
    const doc = await this.read();
    delete doc[id];
    await this.write(doc);
  }
}
