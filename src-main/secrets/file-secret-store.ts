import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../core/durable-file.js';
import { readJsonIfExists } from '../core/optional-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { SecretStore } from './secret-store.js';

const KEY_FILE = 'secrets.key';
const SECRETS_FILE = 'secrets.json';

interface SealedEntry {
  iv: string;
  tag: string;
  data: string;
}
interface SecretsDoc {
  version: 1;
  entries: Record<string, SealedEntry>;
}

/**
 * Secrets under plain Node: AES-256-GCM, keyed by a random 32-byte key in a 0600 file beside the data.
 * It keeps passwords out of the settings file, out of backups of that file and away from other local users;
 * it does not protect against someone who can read this user's files (the key sits next to the data), which
 * is what the OS keychain (safeStorage) is for in the desktop app.
 */
export class FileSecretStore implements SecretStore {
  private key: Buffer | undefined;
  private readonly keyPath: string;
  private readonly secretsPath: string;

  constructor(private readonly dataDir: string) {
    this.keyPath = path.join(dataDir, KEY_FILE);
    this.secretsPath = path.join(dataDir, SECRETS_FILE);
  }

  private async loadKey(): Promise<Buffer> {
    if (this.key) return this.key;
    await fs.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    try {
      const stat = await fs.stat(this.keyPath);
      if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
        throw new SluiceError('INTERNAL', `The secrets key file ${this.keyPath} is readable by other users.`, {
          hint: `Run: chmod 600 "${this.keyPath}"`,
        });
      }
      const key = await fs.readFile(this.keyPath);
      if (key.length !== 32)
        throw new SluiceError('INTERNAL', `The secrets key file ${this.keyPath} is damaged.`, {
          hint: 'Move it away; Sluice will make a new one and you will have to enter host passwords again.',
        });
      this.key = key;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const key = randomBytes(32);
      // 'wx': never overwrite a key another process just made.
      await fs.writeFile(this.keyPath, key, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      this.key = await fs.readFile(this.keyPath);
    }
    return this.key;
  }

  private async readDoc(): Promise<SecretsDoc> {
    try {
      const doc = (await readJsonIfExists(this.secretsPath)) as SecretsDoc | undefined;
      if (doc === undefined) return { version: 1, entries: {} };
      if (doc.version !== 1 || typeof doc.entries !== 'object') throw new Error('unknown format');
      return doc;
    } catch (err) {
      throw new SluiceError('INTERNAL', `The secrets file ${this.secretsPath} is damaged.`, {
        hint: 'Move it away and enter the host passwords again.',
        cause: err,
      });
    }
  }

  private async writeDoc(doc: SecretsDoc): Promise<void> {
    await writeFileDurably(this.secretsPath, JSON.stringify(doc), { mode: 0o600, replace: true });
  }

  async get(id: string): Promise<string | undefined> {
    const entry = (await this.readDoc()).entries[id];
    if (!entry) return undefined;
    const key = await this.loadKey();
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(entry.iv, 'base64'));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(Buffer.from(entry.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(entry.data, 'base64')), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new SluiceError('INTERNAL', `A stored password could not be decrypted (${id}).`, {
        hint: 'The secrets key file changed. Enter the host password again.',
        cause: err,
      });
    }
  }

  async set(id: string, value: string): Promise<void> {
    const key = await this.loadKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    // The id is authenticated too, so a sealed entry cannot be moved to another host's slot.
    cipher.setAAD(Buffer.from(id));
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const doc = await this.readDoc();
    doc.entries[id] = {
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await this.writeDoc(doc);
  }

  async delete(id: string): Promise<void> {
    const doc = await this.readDoc();
    if (!(id in doc.entries)) return;
    delete doc.entries[id];
    await this.writeDoc(doc);
  }
}
