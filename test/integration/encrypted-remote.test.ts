import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeExactly } from '../../src-main/core/random-access-file.js';
import { xoKeyOf, XO_ALGORITHMS } from '../../src-main/formats/xo-encryption/xo-cipher.js';
import { EncryptedRemote } from '../../src-main/remotes/encrypted-remote.js';
import { setRemoteKey } from '../../src-main/remotes/encryption-keys.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { openExistingRemote, openRemote } from '../../src-main/remotes/remote-registry.js';
import { pythonDecrypt, pythonEncrypt } from '../helpers/python-aead.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(() => cleanupAll());

const KEY = xoKeyOf('73c1838d7d8a6088ca2317fb5f29cd91')!;
const WRONG = xoKeyOf('73c1838d7d8a6088ca2317fb5f29cd92')!;

/** Every file under a folder with its bytes: what "nothing was written" is checked against. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${statSync(p).mtimeMs}:${readFileSync(p).toString('hex')}`;
    }
  };
  walk(dir);
  return out;
}

async function newEncrypted(dir: string, opts = {}) {
  const remote = new EncryptedRemote(new FolderRemote(dir), KEY, opts);
  await remote.prove();
  return remote;
}

describe('the handshake: encryption.json and metadata.json at the root', () => {
  it('a new encrypted remote writes both, as XO does; the key is proven by another implementation', async () => {
    const dir = temp();
    await newEncrypted(dir);
    expect(JSON.parse(readFileSync(path.join(dir, 'encryption.json'), 'utf8'))).toEqual({
      algorithm: 'chacha20-poly1305',
    });
    const metadata = JSON.parse(
      pythonDecrypt('chacha20-poly1305', KEY, readFileSync(path.join(dir, 'metadata.json'))).toString(),
    );
    expect(Object.keys(metadata)).toEqual(['random']);
    expect(metadata.random).toMatch(/^[0-9a-f-]{36}$/);
    // Opening it again proves the key and changes nothing.
    const before = snapshot(dir);
    await newEncrypted(dir);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a wrong key is refused at once, with the remote named, and nothing is written', async () => {
    const dir = temp();
    const good = await newEncrypted(dir);
    await good.writeNew('xo-vm-backups/vm/a.json', '{}');
    const before = snapshot(dir);
    const wrong = new EncryptedRemote(new FolderRemote(dir), WRONG);
    await expect(wrong.prove()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: `The key given does not open the encrypted remote ${dir}.`,
      context: { remote: dir },
    });
    // Every operation is refused the same way, a write first of all.
    await expect(wrong.writeNew('xo-vm-backups/vm/b.json', '{}')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(wrong.delete('xo-vm-backups/vm/a.json')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(wrong.list('xo-vm-backups')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(snapshot(dir)).toEqual(before);
    // Even where the remote holds no backups yet: a wrong key never re-keys a remote.
    const empty = temp();
    await newEncrypted(empty);
    const emptyBefore = snapshot(empty);
    await expect(new EncryptedRemote(new FolderRemote(empty), WRONG).prove()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(snapshot(empty)).toEqual(emptyBefore);
  });

  it('an encrypted remote opened without a key is refused, never read as plain files', async () => {
    const dir = temp();
    await (await newEncrypted(dir)).writeNew('xo-vm-backups/vm/a.json', '{"mode":"full"}');
    const before = snapshot(dir);
    const plain = openRemote(dir);
    await expect(plain.list('xo-vm-backups/vm')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: `The remote ${dir} is encrypted (chacha20-poly1305): Sluice needs its key.`,
    });
    await expect(plain.delete('xo-vm-backups/vm/a.json')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(openExistingRemote(dir)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(snapshot(dir)).toEqual(before);
  });

  it('a key for a remote that holds plain files is refused, and nothing is written', async () => {
    const dir = temp();
    mkdirSync(path.join(dir, 'xo-vm-backups'));
    writeFileSync(path.join(dir, 'xo-vm-backups', 'x'), 'plain');
    const before = snapshot(dir);
    await expect(new EncryptedRemote(new FolderRemote(dir), KEY).prove()).rejects.toMatchObject({
      code: 'VALIDATION',
      message: `The remote ${dir} holds files that are not encrypted: it cannot be used as an encrypted remote.`,
    });
    expect(snapshot(dir)).toEqual(before);
    // A plain remote without a key goes on as it always has.
    expect(await openRemote(dir).read('xo-vm-backups/x')).toEqual(Buffer.from('plain'));
  });

  it('a first use cut between the two files is set up again; an unknown algorithm is refused', async () => {
    const dir = temp();
    writeFileSync(path.join(dir, 'metadata.json'), randomBytes(60));
    await newEncrypted(dir);
    await newEncrypted(dir);
    const odd = temp();
    writeFileSync(path.join(odd, 'encryption.json'), '{"algorithm":"aes-256-cbc"}');
    await expect(new EncryptedRemote(new FolderRemote(odd), KEY).prove()).rejects.toThrow(
      /encrypted with aes-256-cbc, which Sluice does not know/,
    );
  });

  it('the keys a process holds by location open the remote for every caller (openRemote)', async () => {
    const dir = temp();
    setRemoteKey(dir, KEY);
    try {
      const remote = await openExistingRemote(dir);
      expect(remote.encrypted).toBe(true);
      await remote.writeNew('xo-vm-backups/v/a.json', 'hello');
      expect((await openRemote(dir).read('xo-vm-backups/v/a.json')).toString()).toBe('hello');
    } finally {
      setRemoteKey(dir, undefined);
    }
    await expect(openRemote(dir).read('xo-vm-backups/v/a.json')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe.each(XO_ALGORITHMS)('files on a %s remote', (algorithm) => {
  it('whole files: written encrypted, read back, listed with plaintext sizes, the handshake hidden', async () => {
    const dir = temp();
    const remote = await newEncrypted(dir, { algorithm });
    const data = randomBytes(100_000);
    await remote.writeNew('xo-vm-backups/vm/a.json', data);
    const raw = readFileSync(path.join(dir, 'xo-vm-backups/vm/a.json'));
    expect(raw.length).toBe(data.length + 28);
    expect(pythonDecrypt(algorithm, KEY, raw).equals(data)).toBe(true);
    expect((await remote.read('xo-vm-backups/vm/a.json')).equals(data)).toBe(true);
    expect((await remote.stat('xo-vm-backups/vm/a.json'))?.size).toBe(data.length);
    expect(await remote.readIfExists('xo-vm-backups/vm/none.json')).toBeUndefined();
    expect((await remote.list('')).map((e) => e.name)).toEqual(['xo-vm-backups']);
    await remote.overwrite('xo-vm-backups/vm/.merge.json', 'state 2');
    expect((await remote.read('xo-vm-backups/vm/.merge.json')).toString()).toBe('state 2');
    await expect(remote.read('xo-vm-backups/vm/a.json', { maxBytes: 99_999 })).rejects.toThrow(/more than/);
    await expect(remote.overwrite('metadata.json', '{}')).rejects.toThrow(/proves the remote's key/);
    await expect(remote.openUpdate('xo-vm-backups/vm/a.json')).rejects.toThrow(/cannot be changed in place/);
    expect(remote.capabilities.inPlaceUpdate).toBe(false);
  });

  it('files another implementation encrypted are read (XO-made files)', async () => {
    const dir = temp();
    const data = randomBytes(5000);
    writeFileSync(path.join(dir, 'encryption.json'), JSON.stringify({ algorithm }));
    writeFileSync(path.join(dir, 'metadata.json'), pythonEncrypt(algorithm, KEY, Buffer.from('{"random":"x"}')));
    mkdirSync(path.join(dir, 'f'));
    writeFileSync(path.join(dir, 'f', 'a'), pythonEncrypt(algorithm, KEY, data));
    const remote = new EncryptedRemote(new FolderRemote(dir), KEY);
    expect((await remote.read('f/a')).equals(data)).toBe(true);
    await expect(new EncryptedRemote(new FolderRemote(dir), WRONG).read('f/a')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });

  it('a changed byte or a cut file fails authentication, naming the file', async () => {
    const dir = temp();
    const remote = await newEncrypted(dir, { algorithm });
    await remote.writeNew('k/a', randomBytes(3000));
    const file = path.join(dir, 'k/a');
    const raw = readFileSync(file);
    raw[1500]! ^= 4;
    writeFileSync(file, raw);
    await expect(remote.read('k/a')).rejects.toMatchObject({
      code: 'REMOTE_ERROR',
      message: expect.stringContaining(`The encrypted file ${file} is damaged`),
      damage: { kind: 'authentication', file },
    });
    writeFileSync(file, raw.subarray(0, 20));
    await expect(remote.read('k/a')).rejects.toMatchObject({ damage: { kind: 'truncated', file } });
  });

  it('streamed uploads: written in order, started over, sealed with the tag; streamed back whole', async () => {
    const dir = temp();
    const remote = await newEncrypted(dir, { algorithm });
    const first = randomBytes(300_000);
    const upload = await remote.beginNew('vm/a.xva');
    await writeExactly(upload.file, first.subarray(0, 1000), 0);
    // A write out of order cannot be encrypted into one stream: refused.
    await expect(writeExactly(upload.file, first.subarray(0, 10), 5000)).rejects.toThrow(/encrypted as it is written/);
    // A transfer that starts over empties the file.
    await upload.file.truncate(0);
    const data = randomBytes(2_500_000);
    // Two writes in flight, as the file sink keeps them.
    await Promise.all([
      writeExactly(upload.file, data.subarray(0, 1_000_000), 0),
      writeExactly(upload.file, data.subarray(1_000_000), 1_000_000),
    ]);
    let validatedSize = -1;
    let validatedHead: Buffer | undefined;
    await upload.commit(async (f) => {
      validatedSize = await f.size();
      validatedHead = Buffer.alloc(8);
      // The folder's temp file is write-only; reading back is for media that allow it.
      await f.read(validatedHead, 0, 8, 0).catch(() => (validatedHead = undefined));
    });
    expect(validatedSize).toBe(data.length);
    if (validatedHead) expect(validatedHead.equals(data.subarray(0, 8))).toBe(true);
    const raw = readFileSync(path.join(dir, 'vm/a.xva'));
    expect(pythonDecrypt(algorithm, KEY, raw).equals(data)).toBe(true);
    const back: Buffer[] = [];
    for await (const b of await remote.createReadStream('vm/a.xva')) back.push(b as Buffer);
    expect(Buffer.concat(back).equals(data)).toBe(true);
    expect((await remote.stat('vm/a.xva'))?.size).toBe(data.length);
    // An aborted upload leaves nothing.
    const dropped = await remote.beginNew('vm/b.xva');
    await writeExactly(dropped.file, data.subarray(0, 100), 0);
    await dropped.abort();
    expect(readdirSync(path.join(dir, 'vm'))).toEqual(['a.xva']);
  });

  it('a tampered stream fails at its end, naming the file, before its last bytes are handed out', async () => {
    const dir = temp();
    const remote = await newEncrypted(dir, { algorithm });
    const data = randomBytes(4 * 1024 * 1024);
    await remote.writeNew('vm/a.xva', data);
    const file = path.join(dir, 'vm/a.xva');
    const raw = readFileSync(file);
    raw[2_000_000]! ^= 1;
    writeFileSync(file, raw);
    let received = 0;
    const read = async () => {
      for await (const b of await remote.createReadStream('vm/a.xva')) received += (b as Buffer).length;
    };
    await expect(read()).rejects.toMatchObject({ damage: { kind: 'authentication', file } });
    expect(received).toBeLessThan(data.length);
  });

  it('parts of files: small ones decrypted whole and authenticated, large ones through the keystream', async () => {
    const dir = temp();
    const remote = await newEncrypted(dir, { algorithm, wholeReadBytes: 1024 * 1024 });
    const small = randomBytes(10_000);
    const large = randomBytes(3 * 1024 * 1024 + 7);
    await remote.writeNew('s', small);
    await remote.writeNew('l', large);
    expect((await remote.readRange('s', 100, 50)).equals(small.subarray(100, 150))).toBe(true);
    expect((await remote.readRange('l', 0, 4)).equals(large.subarray(0, 4))).toBe(true);
    expect((await remote.readRange('l', 2_000_001, 70_000)).equals(large.subarray(2_000_001, 2_070_001))).toBe(true);
    expect((await remote.readRange('l', large.length - 5, 100)).equals(large.subarray(-5))).toBe(true);
    const ranged: Buffer[] = [];
    for await (const b of await remote.createReadStream('l', { start: 10, end: 19 })) ranged.push(b as Buffer);
    expect(Buffer.concat(ranged).equals(large.subarray(10, 20))).toBe(true);
    const f = await remote.openRead('s');
    const buf = Buffer.alloc(10);
    expect(await f.read(buf, 0, 10, 9_995)).toBe(5);
    expect(buf.subarray(0, 5).equals(small.subarray(9_995))).toBe(true);
    await expect(remote.openRead('l')).rejects.toThrow(/too large to read in parts/);
    // A small file's part is authenticated with the whole of it.
    const raw = readFileSync(path.join(dir, 's'));
    raw[9000]! ^= 1;
    await fs.writeFile(path.join(dir, 's'), raw);
    await expect(remote.readRange('s', 0, 4)).rejects.toMatchObject({ damage: { kind: 'authentication' } });
  });
});
