import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REMOTE_MARKER } from '../../src-main/remotes/remote-marker.js';
import { runCli } from '../helpers/cli.js';
import { MiB, smallPool } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { backupCliArgs } from '../helpers/cli-args.js';

const env = withSimulator(smallPool, { session: false });
let work: string;
beforeAll(() => {
  work = env.temp();
});

/** A full backup of web01 whose host certificate is not pinned unless `extra` pins it. */
function baseArgs(remote: string, dataDir: string, extra: string[] = []): string[] {
  const spoolDir = path.join(work, 'spool');
  return backupCliArgs(env.sim, env.passwordFile, {
    vm: 'web01',
    remote,
    mode: 'full',
    dataDir,
    spoolDir,
    trust: false,
    extra,
  });
}

/** Snapshots left on the host, not counting the one an incremental job keeps on purpose as its next base. */
function snapshotsOnHost(): number {
  return Object.values(env.sim.control.records('VM')).filter(
    (v) => v.is_a_snapshot === true && !(v.other_config as Record<string, string>)['sluice:delta-base'],
  ).length;
}

function filesUnderPaths(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('sluice backup / list', () => {
  it('refuses an unapproved certificate, showing its fingerprint, then remembers an approval', async () => {
    const remote = path.join(work, 'r1');
    const dataDir = path.join(work, 'd1');
    const refused = await runCli(baseArgs(remote, dataDir));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(env.sim.fingerprint);
    expect(refused.stderr).toMatch(/--trust-fingerprint/);
    expect(snapshotsOnHost()).toBe(0);

    const ok = await runCli(
      baseArgs(remote, dataDir, ['--trust-fingerprint', env.sim.fingerprint.replace(/:/g, '').toLowerCase(), '--json']),
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const events = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.some((e) => e.type === 'progress' && e.phase === 'transfer')).toBe(true);
    expect(events.filter((e) => e.type === 'result')).toHaveLength(1);

    // Remembered: no flag needed the second time.
    const again = await runCli(baseArgs(remote, dataDir, ['--json']));
    expect(again.code).toBe(0);

    const verified = await runCli(['verify', '--remote', remote, '--vm', 'web01', '--at', 'latest']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/✔ web01 \d{8}T\d{6}Z: .* verified\n1 point\(s\) checked, 0 damaged/);
    // A verify reads and checks: its progress counts the bytes read against the bytes to read, and writes none.
    const verifiedJson = await runCli(['verify', '--remote', remote, '--vm', 'web01', '--at', 'latest', '--json']);
    const checked = verifiedJson.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; bytesRead: number; totalBytes: number | null })
      .filter((e) => e.type === 'progress');
    expect(checked.at(-1)).toMatchObject({ phase: 'done', totalOf: 'read', bytesWritten: 0 });
    expect(checked.at(-1)!.bytesRead).toBe(checked.at(-1)!.totalBytes);

    const list = await runCli(['list', '--remote', remote]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/web01 \([0-9a-f-]{36}\)\n {2}\d{8}T\d{6}Z {2}full/);
    expect(list.stdout.match(/ full /g)).toHaveLength(2);

    // Damage one point on the remote: verify names it and exits 1.
    const xva = filesUnderPaths(remote).find((f) => f.endsWith('.xva'))!;
    const fd = openSync(xva, 'r+');
    writeSync(fd, Buffer.from('garbage!'), 0, 8, Math.floor(statSync(xva).size / 2));
    closeSync(fd);
    const bad = await runCli(['verify', '--remote', remote]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/✘ The backup web01 \d{8}T\d{6}Z is damaged/);
    expect(bad.stdout).toMatch(/2 point\(s\) checked, 1 damaged/);
    const none = await runCli(['verify', '--remote', remote, '--vm', 'nope']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/No backup of a VM named or with uuid "nope"/);
  });

  it('refuses a changed certificate, showing both fingerprints', async () => {
    const dataDir = path.join(work, 'd2');
    const remote = path.join(work, 'r2');
    const ok = await runCli(baseArgs(remote, dataDir, ['--trust-fingerprint', env.sim.fingerprint, '--json']));
    expect(ok.code).toBe(0);
    const old = env.sim.fingerprint;
    const fresh = await env.sim.control.rotateCertificate();
    const changed = await runCli(baseArgs(remote, dataDir));
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(old);
    expect(changed.stderr).toContain(fresh);
    expect(changed.stderr).toMatch(/different certificate/);
  });

  it('explains a wrong password, a missing password file, and bad usage', async () => {
    const fp = ['--trust-fingerprint', await env.sim.control.rotateCertificate()];
    const bad = path.join(work, 'badpw');
    writeFileSync(bad, 'nope');
    const r1 = await runCli(
      [...baseArgs(path.join(work, 'r3'), path.join(work, 'd3'), fp)].map((a) => (a === env.passwordFile ? bad : a)),
    );
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/wrong username or password/);
    const r2 = await runCli(
      [...baseArgs(path.join(work, 'r3'), path.join(work, 'd3'), fp)].map((a) =>
        a === env.passwordFile ? '/nonexistent/pw' : a,
      ),
    );
    expect(r2.stderr).toMatch(/Cannot read the password file/);
    const r3 = await runCli(['backup', '--vm', 'x']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--host is required/);
  });

  it('cleans up after a process killed mid-backup: next run removes the temp file and the snapshot; the older point stays', async () => {
    const fp = await env.sim.control.rotateCertificate();
    const remote = path.join(work, 'r4');
    const dataDir = path.join(work, 'd4');
    const args = baseArgs(remote, dataDir, ['--trust-fingerprint', fp, '--json']);
    expect((await runCli(args)).code).toBe(0);
    const faultId = env.sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 1 * MiB });
    const killed = await runCli(args, {
      onStdout: (out, child) => {
        if (/"phase":"transfer".*"bytesWritten":[1-9]\d{5,}/.test(out)) child.kill('SIGKILL');
      },
    });
    env.sim.control.removeFault(faultId);
    expect(killed.signal).toBe('SIGKILL');
    expect(filesUnder(remote).some((n) => n.startsWith('.'))).toBe(true);
    expect(snapshotsOnHost()).toBe(1);

    const next = await runCli(args);
    expect(next.code).toBe(0);
    expect(next.stdout).toMatch(/Removed leftover/);
    expect(snapshotsOnHost()).toBe(0);
    // Besides the points: the lock's owner file and the remote's marker (remote-marker.ts), both on purpose.
    const names = filesUnder(remote).filter((n) => !n.startsWith('owner') && n !== REMOTE_MARKER);
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
    expect(names.filter((n) => n.endsWith('.json'))).toHaveLength(2);
  });

  it('makes incremental backups with --mode delta', async () => {
    const fp = await env.sim.control.rotateCertificate();
    const remote = path.join(work, 'delta');
    const args = baseArgs(remote, path.join(work, 'd6'), ['--trust-fingerprint', fp, '--json']).map((a) =>
      a === 'full' ? 'delta' : a,
    );
    expect((await runCli(args)).code).toBe(0);
    env.sim.control.guestWrite(env.sim.control.vmUuidByName('web01'), 0.02);
    const second = await runCli(args);
    expect(second.code).toBe(0);
    const vhds = filesUnder(remote).filter((n) => n.endsWith('.vhd'));
    expect(vhds).toHaveLength(4);
    const list = await runCli(['list', '--remote', remote]);
    expect(list.stdout.match(/ delta /g)).toHaveLength(2);
  });

  it('full and delta runs are two jobs: a delta retention never deletes a full point; each has its schedule id', async () => {
    const fp = await env.sim.control.rotateCertificate();
    const remote = path.join(work, 'two-modes');
    const full = baseArgs(remote, path.join(work, 'd-modes'), ['--trust-fingerprint', fp, '--json']);
    const delta = [...full.map((a) => (a === 'full' ? 'delta' : a)), '--retention', '1'];
    expect((await runCli(full)).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      env.sim.control.guestWrite(env.sim.control.vmUuidByName('web01'), 0.02, i + 7);
      expect((await runCli(delta)).code).toBe(0);
    }
    const vmDir = path.join(remote, 'xo-vm-backups', env.sim.control.vmUuidByName('web01'));
    const metadata = readdirSync(vmDir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => JSON.parse(readFileSync(path.join(vmDir, n), 'utf8')) as Record<string, unknown>);
    expect(metadata.map((m) => [m.mode, m.jobId, m.scheduleId]).sort()).toEqual([
      ['delta', 'sluice-cli-delta', 'sluice-cli-delta.unscheduled'],
      ['full', 'sluice-cli-full', 'sluice-cli-full.unscheduled'],
    ]);
    // Every field XO writes, with real values: tags on both, vtpms on the delta.
    for (const m of metadata) expect(m.tags).toEqual([]);
    expect(metadata.find((m) => m.mode === 'delta')).toMatchObject({ vtpms: [], includeNonNbdQcow2Fix: true });
    // --job names a job of its own; --job and --job-id together are refused.
    const named = await runCli([...delta.filter((a) => a !== '--json'), '--job', 'weekly', '--job-id', 'x']);
    expect(named.code).toBe(2);
    expect(named.stderr).toMatch(/--job or --job-id, not both/);
    const help = await runCli(['backup', '--help']);
    expect(help.stdout).toMatch(/Retention counts only this job's points of this mode/);
  });

  it("an incremental run reads in sizes: no raw byte counts, and the VM's done line has what its disks wrote", async () => {
    const fp = await env.sim.control.rotateCertificate();
    const remote = path.join(work, 'delta-words');
    const args = baseArgs(remote, path.join(work, 'd7'), ['--trust-fingerprint', fp]).map((a) =>
      a === 'full' ? 'delta' : a,
    );
    expect((await runCli([...args, '--json'])).code).toBe(0);
    env.sim.control.guestWrite(env.sim.control.vmUuidByName('web01'), 0.02);
    const second = await runCli(args);
    expect(second.code).toBe(0);
    const output = second.stdout + second.stderr;
    expect(output).not.toMatch(/\d+ bytes/);
    expect(output).toMatch(/Backed up web01 incrementally: \d+\.\d (KiB|MiB) in 2 disk\(s\)/);
    const doneLines = output.split('\n').filter((l) => /^web01 {2,}done/.test(l));
    expect(doneLines.length).toBeGreaterThan(0);
    for (const line of doneLines) expect(line).not.toMatch(/done\s+0 B/);
  });

  it('runs the demo end to end with no set-up: backs up the "Small shop" pool, verifies every point', async () => {
    const remote = path.join(work, 'demo');
    mkdirSync(remote);
    const r = await runCli(['demo', '--remote', remote]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^verified /gm)).toHaveLength(4);
    expect(r.stderr).toMatch(/Skipping .*xo:no-bak/);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('stops cleanly when the remote fills up (ENOSPC), keeping the existing points', async () => {
    const fp = await env.sim.control.rotateCertificate();
    const mnt = path.join(work, 'small-remote');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12M', 'tmpfs', mnt]);
    try {
      const args = (vm: string) => [
        ...baseArgs(mnt, path.join(work, 'd5'), ['--trust-fingerprint', fp]).map((a) => (a === 'web01' ? vm : a)),
      ];
      const first = await runCli(args('db01'));
      expect(first.code).toBe(0);
      const before = filesUnder(mnt).sort();
      const full = await runCli(args('web01'));
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(/destination is full/);
      expect(full.stderr).toMatch(/hint: Free space on the remote/);
      expect(filesUnder(mnt).sort()).toEqual(before);
      expect(snapshotsOnHost()).toBe(0);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
