import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { EnginePortClient } from '../../src-main/engine/engine-port-client.js';
import { serveEngineOnPort } from '../../src-main/engine/engine-port-server.js';
import { FileSecretStore } from '../../src-main/secrets/file-secret-store.js';
import { ConfSettingsStore } from '../../src-main/settings/conf-settings-store.js';
import { smallPool } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// The Electron hosting (utilityProcess + parentPort) reduced to what Node has: a MessageChannel.
describe('engine behind a message port', () => {
  const ports: MessageChannel[] = [];
  const temps: Array<() => void> = [];
  afterEach(() => {
    ports.splice(0).forEach((c) => (c.port1.close(), c.port2.close()));
    temps.splice(0).forEach((c) => c());
  });

  it('serves the contract, persists through the host stores and relays events', async () => {
    const t = makeTempDir();
    temps.push(t.cleanup);
    const channel = new MessageChannel();
    ports.push(channel);
    serveEngineOnPort(channel.port1);
    const stores = { settings: new ConfSettingsStore(t.dir), secrets: new FileSecretStore(t.dir) };
    const client = new EnginePortClient(channel.port2, stores, { dataDir: t.dir, version: '9.9.9' });
    const events: string[] = [];
    client.onEvent((e) => events.push(e));

    expect(await client.invoke('app.info', {})).toMatchObject({
      ok: true,
      value: { transport: 'electron', version: '9.9.9' },
    });
    expect(await client.invoke('nope', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(await client.invoke('app.ping', { nonce: 3 })).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });

    const sim = await smallPool();
    try {
      const added = await client.invoke('hosts.add', {
        url: sim.url,
        username: sim.username,
        password: sim.password,
        trustedFingerprint: sim.fingerprint,
      });
      expect(added.ok).toBe(true);
      expect(stores.settings.get().hosts).toHaveLength(1);
      // The password went through the port to the host side's secret store, not into settings.
      expect(await stores.secrets.get(stores.settings.get().hosts[0]!.secretId)).toBe(sim.password);
    } finally {
      await sim.stop();
    }
    await expect.poll(() => events).toContain('settings.changed');
  });
});
