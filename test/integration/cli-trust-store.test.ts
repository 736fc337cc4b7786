import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfSettingsStore } from '../../src-main/settings/conf-settings-store.js';
import { runCli } from '../helpers/cli.js';
import { hostArgs } from '../helpers/cli-args.js';
import { smallPool } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// One trust store per data folder, whatever command approved the certificate: an approval given with
// --trust-fingerprint stands even when that command then failed to log in, and `jobs add` honours it.
const env = withSimulator(smallPool, { session: false });

describe('the certificates approved in a data folder', () => {
  it('backup --trust-fingerprint with a wrong password remembers the approval; jobs add then trusts it', async () => {
    const work = env.temp();
    const dataDir = path.join(work, 'data');
    const remote = path.join(work, 'remote');
    mkdirSync(remote);
    const wrong = path.join(work, 'wrong-pw');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });

    const backup = await runCli([
      'backup',
      ...hostArgs(env.sim, wrong),
      ...['--vm', 'web01', '--remote', remote, '--mode', 'full', '--data-dir', dataDir],
    ]);
    expect(backup.stderr).toMatch(/wrong username or password/);
    expect(backup.code).toBe(1);
    expect(new ConfSettingsStore(dataDir).get().trustedCertificates).toEqual({ [env.sim.url]: env.sim.fingerprint });

    // No --trust-fingerprint: the certificate the backup approved is approved for jobs add too.
    const add = await runCli([
      'jobs',
      'add',
      ...['--name', 'nightly', '--remote', remote, '--vm', 'db01', '--data-dir', dataDir],
      ...hostArgs(env.sim, env.passwordFile, { trust: false }),
    ]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(new ConfSettingsStore(dataDir).get().hosts.map((h) => h.trustedFingerprint)).toEqual([env.sim.fingerprint]);
  });

  it('an approval is never taken from a failed handshake: a wrong fingerprint is not remembered', async () => {
    const work = env.temp();
    const dataDir = path.join(work, 'data');
    const remote = path.join(work, 'remote');
    mkdirSync(remote);
    const other = 'AB:'.repeat(31) + 'AB';
    const backup = await runCli([
      'backup',
      ...hostArgs({ ...env.sim, fingerprint: other }, env.passwordFile),
      ...['--vm', 'web01', '--remote', remote, '--mode', 'full', '--data-dir', dataDir],
    ]);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/different certificate/);
    expect(new ConfSettingsStore(dataDir).get().trustedCertificates).toEqual({});
  });
});
