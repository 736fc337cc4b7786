import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { collapseUnreferencedVhds } from '../../src-main/repository/chain-collapser.js';
import { referencedVhds } from '../../src-main/repository/point-file-keys.js';
import { deleteBackupPoint } from '../../src-main/repository/point-deleter.js';
import { listBackupPoints, listVmPoints } from '../../src-main/repository/repository-reader.js';
import { runCli } from '../helpers/cli.js';
import {
  checkJson,
  deltaPoints as deltaPointsOf,
  expectPointsRestorable as expectRestorable,
  vhdFiles,
  type DeltaVm,
} from '../helpers/delta-points.js';
import { killMergeAt } from '../helpers/merge-kill.js';
import { liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';
import { backupCliArgs } from '../helpers/cli-args.js';

const env = withSimulator({
  vms: [
    haltedVm('files', { system: [48 * MiB, 8 * MiB] }),
    // Mostly empty: a guest write lands in blocks the first backup does not hold, which a merge must append.
    haltedVm('sparse', { system: [256 * MiB, 2 * MiB] }),
  ],
});
const { temp } = env;

let VM = 'files';
const vmUuid = () => env.sim.control.vmUuidByName(VM);
const disk = () => liveDisks(env.sim, VM)[0]!.uuid;

const deltaVm = (): DeltaVm => ({ sim: env.sim, xapi: env.xapi, vm: VM, jobId: 'job-faults', temp });
const deltaPoints = (remote: string, n: number, seed: number, fraction?: number) =>
  deltaPointsOf(deltaVm(), remote, n, seed, fraction);
const expectPointsRestorable = (remote: string, truth: Map<string, string>) => expectRestorable(remote, truth, disk());

function cliArgs(remote: string, extra: string[] = []): string[] {
  return backupCliArgs(env.sim, env.passwordFile, {
    vm: VM,
    remote,
    mode: 'delta',
    jobId: 'job-faults',
    dataDir: temp(),
    spoolDir: temp(),
    extra,
  });
}

describe('incremental backups: faults', () => {
  it('sluice backup --retention --full-interval keeps N points and a clean repository; check says so', async () => {
    const remote = temp();
    for (let i = 0; i < 4; i++) {
      env.sim.control.guestWrite(vmUuid(), 0.05, 500 + i);
      const r = await runCli(cliArgs(remote, ['--retention', '2', '--full-interval', '3', '--json']));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const events = checkJson(r.stdout);
      const result = events.find((e) => e.type === 'result')!;
      expect((result.keptPoints as string[]).length).toBe(Math.min(i + 1, 2));
      if (i >= 2) {
        expect(result.deletedPoints).toHaveLength(1);
        expect(events.some((e) => e.type === 'progress' && e.phase === 'merge')).toBe(true);
      }
    }
    expect((await listBackupPoints(remote)).points).toHaveLength(2);
    const check = await runCli(['check', '--remote', remote]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(
      /1 VM folder\(s\), 2 point\(s\), 2 VHD\(s\) checked: 0 problem\(s\) found, 0 remaining/,
    );
    const bad = await runCli(['backup', ...cliArgs(remote, ['--retention', '0']).slice(1)]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--retention takes a whole number of points \(1 or more\), not "0"/);
  });

  it('a process killed during a merge leaves every point restorable; check finds the merge and --repair finishes it', async () => {
    const remote = temp();
    const truth = await deltaPoints(remote, 3, 10);
    const [oldest, second] = [...truth.keys()];
    expect(await killMergeAt(remote, vmUuid(), oldest!, '2')).toMatch(/frozen 2\/\d+/);

    // Killed mid-append: the point is gone, its VHD half merged, and the remaining points read as before.
    truth.delete(oldest!);
    const vdiDir = path.join(remote, 'xo-vm-backups', vmUuid(), 'vdis', 'job-faults', disk());
    expect(readdirSync(vdiDir)).toContain(`.${oldest}.vhd.merge.json`);
    await expectPointsRestorable(remote, truth);

    const check = await runCli(['check', '--remote', remote, '--json']);
    expect(check.code).toBe(1);
    const problems = checkJson(check.stdout).filter((e) => e.type === 'problem');
    expect(problems.map((p) => p.kind)).toEqual(['unfinished-merge']);
    expect(problems[0]).toMatchObject({ fixable: true, repaired: false });

    const repair = await runCli(['check', '--remote', remote, '--repair', '--json']);
    expect(repair.code).toBe(0);
    const events = checkJson(repair.stdout);
    expect(events.find((e) => e.type === 'problem')).toMatchObject({ kind: 'unfinished-merge', repaired: true });
    expect(events.find((e) => e.type === 'summary')).toMatchObject({ found: 1, repaired: 1, remaining: 0 });
    expect(vhdFiles(vdiDir)).toEqual([...truth.keys()].map((id) => `${id}.vhd`));
    await expectPointsRestorable(remote, truth);
    expect(await pointChain((await listVmPoints(remote, vmUuid())).points[0]!, disk())).toEqual([
      path.join(vdiDir, `${second}.vhd`),
    ]);
  });

  it('check finds orphans and points deleted but not merged; --repair merges and removes them, losing no point', async () => {
    const remote = temp();
    const truth = await deltaPoints(remote, 3, 300);
    const [oldest, second] = [...truth.keys()];
    const vmDir = path.join(remote, 'xo-vm-backups', vmUuid());
    const vdiDir = path.join(vmDir, 'vdis', 'job-faults', disk());
    // A crash right after a point's metadata was deleted, before its merge; a VHD and an XVA no point names.
    rmSync(path.join(vmDir, `${oldest}.json`));
    truth.delete(oldest!);
    copyFileSync(path.join(vdiDir, `${oldest}.vhd`), path.join(vdiDir, '20200101T000000Z.vhd'));
    writeFileSync(path.join(vmDir, '20200101T000000Z.xva'), 'half a backup');
    writeFileSync(path.join(vdiDir, '.1700000000000-abc123.20990101T000000Z.vhd'), 'temp');

    const check = await runCli(['check', '--remote', remote]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`✘ pending-merge: ${path.join(vdiDir, `${oldest}.vhd`)}`);
    expect(check.stdout).toContain(`✘ orphan-vhd: ${path.join(vdiDir, '20200101T000000Z.vhd')}`);
    expect(check.stdout).toContain(`✘ orphan-xva: ${path.join(vmDir, '20200101T000000Z.xva')}`);
    expect(check.stdout).toMatch(/✘ temporary-file: .*20990101T000000Z\.vhd.*\(--repair fixes this\)/);
    expect(check.stdout).toMatch(/4 problem\(s\) found, 4 remaining\.\nRun again with --repair/);

    const repair = await runCli(['check', '--remote', remote, '--repair']);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/4 problem\(s\) found, 4 repaired, 0 remaining/);
    expect(vhdFiles(vdiDir)).toEqual([...truth.keys()].map((id) => `${id}.vhd`));
    await expectPointsRestorable(remote, truth);
    expect(await pointChain((await listVmPoints(remote, vmUuid())).points[0]!, disk())).toEqual([
      path.join(vdiDir, `${second}.vhd`),
    ]);
  });

  it('a process killed during a delta backup leaves nothing half-made; the next run cleans up and chains on', async () => {
    const remote = temp();
    const first = await runCli(cliArgs(remote, ['--json']));
    expect(first.code).toBe(0);
    env.sim.control.guestWrite(vmUuid(), 0.3, 41);
    env.sim.control.addFault('rate-limit=2M,on=export_raw_vdi');
    try {
      const killed = await runCli(cliArgs(remote, ['--json']), {
        onStdout: (text, proc) => {
          if (/"phase":"transfer"[^\n]*"bytesWritten":[1-9]/.test(text)) proc.kill('SIGKILL');
        },
      });
      expect(killed.signal).toBe('SIGKILL');
    } finally {
      env.sim.control.clearFaults();
    }
    const vdiDir = path.join(remote, 'xo-vm-backups', vmUuid(), 'vdis', 'job-faults', disk());
    expect(readdirSync(vdiDir).some((n) => n.startsWith('.'))).toBe(true); // the temp VHD of the killed run
    const check = await runCli(['check', '--remote', remote, '--json']);
    expect(
      checkJson(check.stdout)
        .filter((e) => e.type === 'problem')
        .map((e) => e.kind),
    ).toEqual(['temporary-file']);
    expect(check.code).toBe(1);

    const next = await runCli(cliArgs(remote, ['--json']));
    expect(next.code).toBe(0);
    expect(readdirSync(vdiDir).filter((n) => n.startsWith('.'))).toEqual([]);
    const { points } = await listBackupPoints(remote);
    expect(points).toHaveLength(2);
    expect(points[1]!.metadata.mode === 'delta' && Object.values(points[1]!.metadata.isVhdDifferencing)).toEqual([
      true,
    ]);
    expect(await chainDigest(await pointChain(points[1]!, disk()))).toBe(await env.sim.control.hashVdi(disk()));
    // The killed run's snapshot is gone from the host; only the next base is kept.
    expect(
      Object.values(env.sim.control.records('VM')).filter(
        (v) => v.is_a_snapshot === true && (v.name_label as string).startsWith(`[Sluice] ${VM} `),
      ).length,
    ).toBe(1);
    expect((await runCli(['check', '--remote', remote])).code).toBe(0);
  });

  it.each(['truncated', 'bad footer checksum'] as const)(
    'a %s VHD on the remote is detected, reported, and never merged into good data',
    async (damage) => {
      const remote = temp();
      const truth = await deltaPoints(remote, 3, 60);
      const ids = [...truth.keys()];
      const vdiDir = path.join(remote, 'xo-vm-backups', vmUuid(), 'vdis', 'job-faults', disk());
      const victim = path.join(vdiDir, `${ids[1]}.vhd`);
      if (damage === 'truncated') truncateSync(victim, statSync(victim).size - 4096);
      else {
        const fd = openSync(victim, 'r+');
        writeSync(fd, Buffer.from([0x5a]), 0, 1, statSync(victim).size - 512 + 48);
        closeSync(fd);
      }
      const rootBefore = execFileSync('sha256sum', [path.join(vdiDir, `${ids[0]}.vhd`)]).toString();

      const check = await runCli(['check', '--remote', remote, '--repair', '--json']);
      expect(check.code).toBe(1);
      const problems = checkJson(check.stdout).filter((e) => e.type === 'problem');
      expect(problems.map((p) => p.kind)).toEqual(['broken-chain', 'broken-chain']); // points 2 and 3 build on it
      expect(problems[0]).toMatchObject({ path: victim, fixable: false, repaired: false });

      // Retention would merge point 2 into point 1's file: refused, point kept, nothing written.
      const points = (await listVmPoints(remote, vmUuid())).points;
      await expect(deleteBackupPoint(remote, points[0]!)).rejects.toThrow(
        /is damaged .* merging it would spread the damage/,
      );
      expect((await listVmPoints(remote, vmUuid())).points).toHaveLength(3);
      expect(execFileSync('sha256sum', [path.join(vdiDir, `${ids[0]}.vhd`)]).toString()).toBe(rootBefore);
      expect(readdirSync(vdiDir).filter((n) => n.endsWith('.merge.json'))).toEqual([]);
      // The oldest point, on its own, is still good.
      expect(await chainDigest([path.join(vdiDir, `${ids[0]}.vhd`)])).toBe(truth.get(ids[0]!));

      // The next backup does not build on the broken chain: a full VHD, and the log says why.
      const opts = testBackupOptions(remote, temp(), { jobId: 'job-faults' });
      const r = await runDeltaBackup(env.xapi, (await resolveVms(env.xapi, [VM])).selected[0]!.ref, opts);
      expect(r.disks[0]!.differencing).toBe(false);
      expect(opts.logs.join('\n')).toMatch(
        /The backup chain of disk "files system" is broken on the remote .*; making a full VHD/,
      );
    },
  );

  const root = process.getuid?.() === 0;
  it.skipIf(!root)(
    'a remote that fills up during a merge: the merge stops cleanly, the chain stays intact, and it finishes once there is room',
    async () => {
      const mnt = path.join(temp(), 'small-remote');
      mkdirSync(mnt, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64M', 'tmpfs', mnt]);
      VM = 'sparse';
      try {
        const truth = await deltaPoints(mnt, 2, 80, 0.02);
        const [oldest] = [...truth.keys()];
        // Leave less room than the merge's new blocks need.
        const filler = path.join(mnt, 'filler');
        const free = () => Number(execFileSync('df', ['-B1', '--output=avail', mnt]).toString().split('\n')[1]);
        execFileSync(
          'dd',
          ['if=/dev/zero', `of=${filler}`, 'bs=64K', `count=${Math.floor((free() - 1 * MiB) / 65536)}`],
          { stdio: 'ignore' },
        );
        const points = (await listVmPoints(mnt, vmUuid())).points;
        await expect(deleteBackupPoint(mnt, points[0]!, { batchBlocks: 1 })).rejects.toThrow(/the destination is full/);
        truth.delete(oldest!);
        const vdiDir = path.join(mnt, 'xo-vm-backups', vmUuid(), 'vdis', 'job-faults', disk());
        expect(readdirSync(vdiDir)).toContain(`.${oldest}.vhd.merge.json`);
        await expectPointsRestorable(mnt, truth);

        execFileSync('rm', [filler]);
        const r = await collapseUnreferencedVhds(
          new FolderRemote(mnt),
          `xo-vm-backups/${vmUuid()}/vdis/job-faults/${disk()}`,
          referencedVhds((await listVmPoints(mnt, vmUuid())).points),
        );
        expect(r.resumed).toHaveLength(1);
        expect(vhdFiles(vdiDir)).toEqual([...truth.keys()].map((id) => `${id}.vhd`).sort());
        await expectPointsRestorable(mnt, truth);
        expect(existsSync(path.join(vdiDir, `${oldest}.vhd`))).toBe(false);
      } finally {
        VM = 'files';
        execFileSync('umount', [mnt]);
      }
    },
  );
});
