import { existsSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { checkRepository } from '../../src-main/repository/repository-check.js';
import { runCli } from '../helpers/cli.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { haltedVm, systemAndData, withSimulator } from '../helpers/simulator-suite.js';
import { backupCliArgs } from '../helpers/cli-args.js';

// Issue 13: metadata that cannot be parsed might belong to any point, so nothing it could reference may be
// deleted or merged away: not by the next backup, not by retention, not by `check --repair`.

const env = withSimulator({
  vms: [haltedVm('app', systemAndData), haltedVm('web', { system: [8 * MiB, 2 * MiB] })],
});
const { temp, vmRef } = env;

const options = (remoteRoot: string, extra: Partial<BackupRunOptions> = {}) =>
  testBackupOptions(remoteRoot, temp(), { jobId: 'job-unreadable', ...extra });

/** Every file under a folder, relative, sorted (temporary and hidden files left out). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('a point whose metadata cannot be read keeps its data', () => {
  it('full: the next backup and check --repair keep its XVA and report it', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('web');
    const first = await runFullBackup(env.xapi, await vmRef('web'), options(remote, { jobId: 'job-full' }));
    const dir = path.join(remote, 'xo-vm-backups', vmUuid);
    writeFileSync(path.join(dir, `${first.pointId}.json`), '{"mode": "full", broken');
    await runFullBackup(env.xapi, await vmRef('web'), options(remote, { jobId: 'job-full' }));
    expect(existsSync(path.join(dir, `${first.pointId}.xva`))).toBe(true);
    expect(existsSync(path.join(dir, `${first.pointId}.xva.checksum`))).toBe(true);

    const report = await checkRepository(remote, { repair: true });
    expect(existsSync(path.join(dir, `${first.pointId}.xva`))).toBe(true);
    expect(report.remaining.map((p) => p.kind).sort()).toEqual(['orphan-xva', 'orphan-xva', 'unreadable-metadata']);
    const orphan = report.remaining.find((p) => p.kind === 'orphan-xva')!;
    expect(orphan.fixable).toBe(false);
    expect(orphan.message).toContain(`${first.pointId}.json cannot be read`);
  });

  it('incremental: neither the next backup, retention nor check --repair removes or merges a VHD it might use', async () => {
    for (const broken of ['newest', 'base'] as const) {
      const remote = temp();
      const vmUuid = env.sim.control.vmUuidByName('app');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        env.sim.control.guestWrite(vmUuid, 0.1, 10 + i);
        ids.push((await runDeltaBackup(env.xapi, await vmRef('app'), options(remote))).pointId);
      }
      const dir = path.join(remote, 'xo-vm-backups', vmUuid);
      const victim = broken === 'newest' ? ids[2]! : ids[0]!;
      writeFileSync(path.join(dir, `${victim}.json`), '\u0000\u0000 not json');
      const vhdsBefore = filesUnder(path.join(dir, 'vdis')).filter((f) => f.endsWith('.vhd'));
      expect(vhdsBefore).toHaveLength(6);

      // The next backup settles the chains (and retention would delete the older readable points).
      env.sim.control.guestWrite(vmUuid, 0.1, 20);
      const r = await runDeltaBackup(env.xapi, await vmRef('app'), options(remote, { retention: { keep: 1 } }));
      const vhdsAfter = filesUnder(path.join(dir, 'vdis')).filter((f) => f.endsWith('.vhd'));
      for (const f of vhdsBefore) expect(vhdsAfter, `${broken}: ${f}`).toContain(f);
      expect(r.retention?.deleted.flatMap((d) => d.collapse?.merged ?? [])).toEqual([]);

      await checkRepository(remote, { repair: true });
      const vhdsRepaired = filesUnder(path.join(dir, 'vdis')).filter((f) => f.endsWith('.vhd'));
      for (const f of vhdsBefore) expect(vhdsRepaired, `${broken} after repair: ${f}`).toContain(f);
    }
  });

  it('a 400 MiB metadata file is refused unread: list, verify, check and an unrelated backup run in a 128 MiB heap', async () => {
    const remote = temp();
    const app = env.sim.control.vmUuidByName('app');
    await runDeltaBackup(env.xapi, await vmRef('app'), options(remote));
    await runDeltaBackup(env.xapi, await vmRef('web'), options(remote));
    // Sparse, so it costs no disk: only its length matters to a reader that reads it whole.
    const huge = path.join(remote, 'xo-vm-backups', app, '20300101T000000Z.json');
    writeFileSync(huge, '');
    truncateSync(huge, 400 * MiB);
    // Reading it whole would need a 400 MiB string: far beyond this heap, the process would die of it.
    const smallHeap = { NODE_OPTIONS: '--max-old-space-size=128' };
    const refused = new RegExp(`${path.basename(huge)} is ${400 * MiB} bytes, more than`);

    const list = await runCli(['list', '--remote', remote, '--json'], { env: smallHeap });
    expect(list.signal, list.stderr).toBeNull();
    expect(list.stdout).toMatch(refused);
    expect(list.stdout).toContain('"vmName":"web"');
    const check = await runCli(['check', '--remote', remote, '--json'], { env: smallHeap });
    expect(check.signal, check.stderr).toBeNull();
    expect(check.stdout).toMatch(refused);
    const verify = await runCli(['verify', '--remote', remote, '--vm', 'web', '--json'], { env: smallHeap });
    // web's point verifies; the exit status is 1 because the repository holds a file that is not a point.
    expect(verify.signal, verify.stderr).toBeNull();
    expect(verify.stdout).toMatch(/"name":"web"[^\n]*"phase":"done"/);
    expect(verify.stdout).toMatch(refused);
    env.sim.control.guestWrite(env.sim.control.vmUuidByName('web'), 0.1, 5);
    const backup = await runCli(
      backupCliArgs(env.sim, env.passwordFile, {
        vm: 'web',
        remote,
        mode: 'delta',
        jobId: 'job-unreadable',
        dataDir: temp(),
        spoolDir: temp(),
        json: true,
      }),
      { env: smallHeap },
    );
    expect(backup.code, backup.stderr).toBe(0);
    expect(statSync(huge).size).toBe(400 * MiB);
  });
});
