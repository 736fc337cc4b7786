import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimHandle } from '../../src-sim/index.js';
import { smallPool } from '../helpers/sim.js';
import { createNodeEngine } from '../../src-main/engine/engine-node.js';
import { FileSecretStore } from '../../src-main/secrets/file-secret-store.js';
import { ConfSettingsStore } from '../../src-main/settings/conf-settings-store.js';
import { migrateSettings, SettingsMigrationError } from '../../src-main/settings/settings-migrations.js';
import { SETTINGS_SCHEMA_VERSION } from '../../src-main/settings/settings-schema.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

let sim: SimHandle;
beforeAll(async () => {
  sim = await smallPool();
});
afterAll(async () => {
  await sim?.stop();
});

describe('settings', () => {
  it('persists hosts and remotes across restarts, and never stores a password in the settings file', async () => {
    const dir = temp();
    const a = createNodeEngine({ dataDir: dir, transport: 'websocket' });
    const password = sim.password;
    const added = await a.dispatcher.dispatch('hosts.add', {
      url: sim.url.replace('https://', ''),
      username: sim.username,
      password,
      trustedFingerprint: sim.fingerprint,
    });
    expect(added).toMatchObject({
      ok: true,
      value: { url: sim.url, label: '127.0.0.1', trustedFingerprint: sim.fingerprint },
    });
    await a.dispatcher.dispatch('remotes.add', { name: 'nas', path: '/mnt/nas' });

    const b = createNodeEngine({ dataDir: dir, transport: 'websocket' });
    const hosts = await b.dispatcher.dispatch('hosts.list', {});
    expect(hosts.ok && hosts.value).toHaveLength(1);
    const remotes = await b.dispatcher.dispatch('remotes.list', {});
    expect(remotes.ok && remotes.value).toMatchObject([{ name: 'nas', path: '/mnt/nas' }]);

    const settingsText = readFileSync(path.join(dir, 'settings.json'), 'utf8');
    expect(settingsText).toContain(sim.url);
    expect(settingsText).not.toContain(password);
    for (const f of ['secrets.json', 'secrets.key'])
      expect(readFileSync(path.join(dir, f)).includes(password)).toBe(false);
    const secretId = JSON.parse(settingsText).hosts[0].secretId;
    expect(await b.ctx.secrets.get(secretId)).toBe(password);
  });

  it('refuses a duplicate pool with a CONFLICT that says what to do', async () => {
    const e = createNodeEngine({ dataDir: temp(), transport: 'websocket' });
    const first = await e.dispatcher.dispatch('hosts.add', {
      url: sim.url,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: sim.fingerprint,
    });
    expect(first.ok).toBe(true);
    const r = await e.dispatcher.dispatch('hosts.add', { url: sim.url, username: 'root', password: 'y' });
    expect(r).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('checks the login and the certificate before saving a pool', async () => {
    const e = createNodeEngine({ dataDir: temp(), transport: 'websocket' });
    const wrong = await e.dispatcher.dispatch('hosts.add', {
      url: sim.url,
      username: sim.username,
      password: 'nope',
      trustedFingerprint: sim.fingerprint,
    });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const untrusted = await e.dispatcher.dispatch('hosts.add', {
      url: sim.url,
      username: sim.username,
      password: sim.password,
    });
    expect(untrusted).toMatchObject({ ok: false, error: { code: 'CERTIFICATE_UNTRUSTED' } });
    const probe = await e.dispatcher.dispatch('hosts.probe', { url: sim.url });
    expect(probe).toMatchObject({ ok: true, value: { fingerprint: sim.fingerprint, knownFingerprint: null } });
    expect(e.ctx.settings.get().hosts).toEqual([]);
  });

  it('migrates a pre-release (version 0) file and keeps its values', () => {
    const dir = temp();
    writeFileSync(
      path.join(dir, 'settings.json'),
      JSON.stringify({ theme: 'dark', remotes: [{ id: 'r', name: 'nas', kind: 'folder', path: '/x' }] }),
    );
    const store = new ConfSettingsStore(dir);
    const s = store.get();
    expect(s.schemaVersion).toBe(SETTINGS_SCHEMA_VERSION);
    expect(s.preferences.theme).toBe('dark');
    expect(s.remotes).toHaveLength(1);
    expect(JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8')).schemaVersion).toBe(
      SETTINGS_SCHEMA_VERSION,
    );
  });

  it('refuses a file from a newer Sluice instead of overwriting it', () => {
    expect(() => migrateSettings({ schemaVersion: 99 })).toThrow(SettingsMigrationError);
    expect(() => migrateSettings({ schemaVersion: 99 })).toThrow(/newer Sluice/);
  });

  it('validates updates against the schema', async () => {
    const store = new ConfSettingsStore(temp());
    await expect(store.update((s) => ((s.preferences as { theme: string }).theme = 'purple'))).rejects.toThrow();
    expect(store.get().preferences.theme).toBe('system');
  });
});

describe('file secret store', () => {
  it('keeps the key file private (0600) and round-trips secrets', async () => {
    const dir = temp();
    const store = new FileSecretStore(dir);
    await store.set('host:1', 'hunter2');
    expect(await store.get('host:1')).toBe('hunter2');
    expect(statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    await store.delete('host:1');
    expect(await store.get('host:1')).toBeUndefined();
  });

  it('detects a tampered entry or a moved one', async () => {
    const dir = temp();
    const store = new FileSecretStore(dir);
    await store.set('a', 'alpha');
    const doc = JSON.parse(readFileSync(path.join(dir, 'secrets.json'), 'utf8'));
    doc.entries.b = doc.entries.a;
    writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify(doc));
    await expect(new FileSecretStore(dir).get('b')).rejects.toThrow(/could not be decrypted/);
  });
});
