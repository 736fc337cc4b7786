import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventPayload, ResponseOf } from '../../src-shared/contract/index.js';
import { withEngine } from '../helpers/engine.js';

// A saved encrypted remote: the key entered once (remotes.add), kept in the secret store only, never in the
// settings file or any response; "Back up now", the Backups view's list and verify go through it.

const suite = withEngine();
const KEY = 'Z8v#q2LmN4pR7tW1yB6cE9gJ3kS5uX0a';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('a saved encrypted remote', () => {
  it('is created with its key, backed up to, listed and verified; the key is nowhere but the secret store', async () => {
    const dir = suite.temp();
    const added = await suite.call<ResponseOf<'remotes.add'>>('remotes.add', {
      name: 'offsite',
      path: dir,
      encryptionKey: KEY,
    });
    expect(added).toEqual({ id: expect.any(String), name: 'offsite', kind: 'folder', path: dir, encrypted: true });
    expect(JSON.parse(readFileSync(path.join(dir, 'encryption.json'), 'utf8'))).toEqual({
      algorithm: 'chacha20-poly1305',
    });
    const listed = await suite.call<ResponseOf<'remotes.list'>>('remotes.list', {});
    expect(JSON.stringify(listed)).not.toContain(KEY);
    // Not in any file of the data folder in the clear (the settings file, the secret store's sealed entries).
    for (const f of filesUnder(suite.engine.ctx.dataDir))
      expect(readFileSync(f).includes(Buffer.from(KEY)), f).toBe(false);
    expect(await suite.engine.ctx.secrets.get(`remote-encryption-key:${added.id}`)).toBe(KEY);

    const { id: hostId } = await suite.addHost();
    const finished: Array<EventPayload<'backup.finished'>> = [];
    const off = suite.engine.ctx.bus.on('backup.finished', (f) => finished.push(f));
    const { runId } = await suite.call<{ runId: string }>('backup.start', {
      hostId,
      vmUuids: [suite.sim.control.vmUuidByName('web01')],
      remoteId: added.id,
      mode: 'full',
    });
    await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 60_000 }).toBeTruthy();
    off();
    expect(finished.find((f) => f.runId === runId)).toMatchObject({ ok: true, vms: [{ ok: true }] });
    const stored = filesUnder(dir).filter((f) => f.endsWith('.xva'));
    expect(stored).toHaveLength(1);
    expect(readFileSync(stored[0]!).subarray(0, 512).includes(Buffer.from('ova.xml'))).toBe(false);

    const { points } = await suite.call<ResponseOf<'backups.list'>>('backups.list', { remoteId: added.id });
    expect(points).toHaveLength(1);
    const ops: Array<EventPayload<'operations.finished'>> = [];
    const off2 = suite.engine.ctx.bus.on('operations.finished', (f) => ops.push(f));
    const verify = async () => {
      const { operationId } = await suite.call<{ operationId: string }>('points.verify', {
        remoteId: added.id,
        vmUuid: points[0]!.vmUuid,
        pointId: points[0]!.id,
      });
      await expect.poll(() => ops.find((f) => f.operationId === operationId), { timeout: 60_000 }).toBeTruthy();
      return ops.find((f) => f.operationId === operationId)!;
    };
    expect(await verify()).toMatchObject({ kind: 'verify', ok: true });
    // A changed byte: verify names the file.
    const raw = readFileSync(stored[0]!);
    raw[1000]! ^= 1;
    writeFileSync(stored[0]!, raw);
    const bad = await verify();
    off2();
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad.error)).toContain(`The encrypted file ${stored[0]} is damaged`);

    // The key is looked up in the secret store at each use: gone from there, the remote is refused, named.
    const secretId = `remote-encryption-key:${added.id}`;
    await suite.engine.ctx.secrets.delete(secretId);
    const lost = await suite.engine.dispatcher.dispatch('backups.list', { remoteId: added.id });
    expect(lost).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED', message: 'The key of the encrypted remote "offsite" is not in the secret store.' },
    });
    await suite.engine.ctx.secrets.set(secretId, KEY);
    expect((await suite.call<ResponseOf<'backups.list'>>('backups.list', { remoteId: added.id })).points).toHaveLength(
      1,
    );
    // Removing the remote forgets its key (the backups stay).
    await suite.call('remotes.remove', { id: added.id });
    expect(await suite.engine.ctx.secrets.get(secretId)).toBeUndefined();
    expect(filesUnder(dir).filter((f) => f.endsWith('.xva'))).toHaveLength(1);
  });

  it('a wrong key for an encrypted folder is refused, and nothing is saved', async () => {
    const dir = suite.temp();
    await suite.call('remotes.add', { name: 'first', path: dir, encryptionKey: KEY });
    const before = (await suite.call<ResponseOf<'remotes.list'>>('remotes.list', {})).length;
    const r = await suite.engine.dispatcher.dispatch('remotes.add', {
      name: 'again',
      path: dir,
      encryptionKey: KEY.replace('Z', 'Y'),
    });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED', message: `The key given does not open the encrypted remote ${dir}.` },
    });
    const short = await suite.engine.dispatcher.dispatch('remotes.add', { name: 'x', path: dir, encryptionKey: 'abc' });
    expect(short).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', issues: [{ path: 'encryptionKey' }] },
    });
    expect(await suite.call<ResponseOf<'remotes.list'>>('remotes.list', {})).toHaveLength(before);
  });
});
