import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventPayload } from '../../src-shared/contract/index.js';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import { listBackupPoints } from '../../src-main/repository/index.js';
import { runCli } from '../helpers/cli.js';
import { backupCliArgs } from '../helpers/cli-args.js';
import { callEngine } from '../helpers/engine.js';
import { MiB } from '../helpers/sim.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';

// The two ways a folder remote takes VHD directories (XO's useVhdDirectory): `sluice backup --vhd-directory`,
// and a saved remote with `useVhdDirectory` (remotes.add), which "Back up now" and jobs follow. Without
// either, a folder remote keeps VHD files.

const env = withSimulator({ vms: [haltedVm('s1', { disk: [8 * MiB, 4 * MiB] })] }, { session: false });
const engines: NodeEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.close();
});

/** The names the point's metadata gives its disks. */
async function vhdNames(remote: string): Promise<string[]> {
  const { points } = await listBackupPoints(remote);
  return points.flatMap((p) => (p.metadata.mode === 'delta' ? Object.values(p.metadata.vhds) : []));
}

describe('VHD directories on a folder remote', () => {
  it('sluice backup --vhd-directory writes aliases and directories; without it, VHD files', async () => {
    for (const flag of [true, false]) {
      const remote = path.join(env.temp(), 'r');
      const r = await runCli(
        backupCliArgs(env.sim, env.passwordFile, {
          vm: 's1',
          remote,
          mode: 'delta',
          dataDir: env.temp(),
          spoolDir: env.temp(),
          extra: flag ? ['--vhd-directory'] : [],
        }),
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const names = await vhdNames(remote);
      expect(names).toHaveLength(1);
      expect(names[0]!.endsWith('.alias.vhd')).toBe(flag);
      const folder = path.join(remote, 'xo-vm-backups', env.sim.control.vmUuidByName('s1'), path.dirname(names[0]!));
      expect(existsSync(path.join(folder, 'data'))).toBe(flag);
    }
    const wrong = await runCli([
      'backup',
      '--vhd-directory',
      '--mode',
      'full',
      '--host',
      'x',
      '--username',
      'u',
      '--password-file',
      env.passwordFile,
      '--vm',
      's1',
      '--remote',
      env.temp(),
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('--vhd-directory applies to --mode delta only');
  });

  it('a saved remote with useVhdDirectory gets VHD directories from "Back up now"', async () => {
    const e = createNodeEngine({ dataDir: env.temp(), transport: 'websocket' });
    engines.push(e);
    const host = await callEngine<{ id: string }>(e, 'hosts.add', {
      url: env.sim.url,
      username: env.sim.username,
      password: env.sim.password,
      trustedFingerprint: env.sim.fingerprint,
    });
    const dir = env.temp();
    const saved = await callEngine<{ id: string; useVhdDirectory?: boolean }>(e, 'remotes.add', {
      name: 'dirs',
      path: dir,
      useVhdDirectory: true,
    });
    expect(saved.useVhdDirectory).toBe(true);
    const finished: Array<EventPayload<'backup.finished'>> = [];
    const off = e.ctx.bus.on('backup.finished', (f) => finished.push(f));
    const { runId } = await callEngine<{ runId: string }>(e, 'backup.start', {
      hostId: host.id,
      vmUuids: [env.sim.control.vmUuidByName('s1')],
      remoteId: saved.id,
      mode: 'delta',
    });
    await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 60_000 }).toBeTruthy();
    off();
    expect(finished.find((f) => f.runId === runId)!.ok).toBe(true);
    const names = await vhdNames(dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/\.alias\.vhd$/);
    const folder = path.join(dir, 'xo-vm-backups', env.sim.control.vmUuidByName('s1'), path.dirname(names[0]!));
    expect(readdirSync(path.join(folder, 'data'))).toHaveLength(1);
  });
});
