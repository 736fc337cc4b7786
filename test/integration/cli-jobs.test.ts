import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import { RunHistory } from '../../src-main/jobs/run-history.js';
import { ConfSettingsStore } from '../../src-main/settings/conf-settings-store.js';
import type { SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/serve-process.js';
import { MiB, smallPool } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// `npx sluice jobs …` and `npx sluice daemon` as a user runs them, on one data dir.
let sim: SimHandle;
let work: string;
let cleanup: () => void;
let dataDir: string;
let remoteDir: string;

beforeAll(async () => {
  sim = await smallPool();
  ({ dir: work, cleanup } = makeTempDir());
  dataDir = path.join(work, 'data');
  remoteDir = path.join(work, 'remote');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(remoteDir);
  writeFileSync(path.join(work, 'pw'), `${sim.password}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await sim?.stop();
  cleanup?.();
});

const jobs = (...args: string[]) => runCli(['jobs', ...args, '--data-dir', dataDir]);

describe('sluice jobs', () => {
  it('adds a job from flags (adding the pool and the remote on the way), and refuses a bad one naming the field', async () => {
    const bad = await jobs(
      'add',
      '--name',
      'broken',
      '--host',
      sim.url,
      '--username',
      sim.username,
      '--password-file',
      path.join(work, 'pw'),
      '--trust-fingerprint',
      sim.fingerprint,
      '--remote',
      remoteDir,
      '--vm',
      'db01',
      '--schedule',
      '0 25 * * *',
    );
    expect(bad.code).toBe(1);
    // A terminal has no highlighted field: the refusal names the flag and what is wrong with it.
    expect(bad.stderr).toMatch(/cannot be saved: --schedule: "0 25 \* \* \*" is not a cron pattern/);
    expect(bad.stderr).toMatch(/\n {2}hint: Correct that flag, then run the command again\.\n$/);
    expect(bad.stderr).not.toMatch(/highlighted|schedules\.0/);
    expect(new ConfSettingsStore(dataDir).get().jobs).toEqual([]);

    const ok = await jobs(
      'add',
      '--name',
      'nightly',
      '--host',
      sim.url,
      '--remote',
      remoteDir,
      '--vm',
      'db01',
      '--vm',
      'web01',
      '--mode',
      'full',
      '--schedule',
      '0 2 * * *',
      '--timezone',
      'Europe/Paris',
      '--keep',
      '3',
      '--vm-concurrency',
      '2',
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^Saved job "nightly" \(.+\); next run \d{4}-\d\d-\d\dT01:00:00\.000Z\.\n$/);
    const s = new ConfSettingsStore(dataDir).get();
    expect(s.jobs[0]).toMatchObject({
      name: 'nightly',
      mode: 'full',
      vmConcurrency: 2,
      vms: { kind: 'vms', vmUuids: [sim.control.vmUuidByName('db01'), sim.control.vmUuidByName('web01')] },
    });
    expect(s.jobs[0]!.schedules[0]).toMatchObject({
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
      retention: { keep: 3 },
    });
    expect(s.remotes.map((r) => r.path)).toEqual([remoteDir]);
    const list = await jobs('list');
    expect(list.stdout).toMatch(/^nightly {2}full {2}next .+ {2}never run\n$/);
  });

  it('runs a job; a second `jobs run` of it meanwhile is refused with a clear message', async () => {
    // The first VM's export is slow (the rate is fixed when an export starts) until the second command has
    // been refused; then the faults go and the run finishes at full speed.
    await new ConfSettingsStore(dataDir).update((s) => void (s.jobs[0]!.vmConcurrency = 1));
    sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: MiB / 2 });
    try {
      let second: Promise<Awaited<ReturnType<typeof runCli>>> | undefined;
      const firstRun = runCli(['jobs', 'run', 'nightly', '--json', '--data-dir', dataDir], {
        onStdout: (out) => {
          if (!second && out.includes('"phase":"transfer"'))
            second = runCli(['jobs', 'run', 'nightly', '--data-dir', dataDir]);
        },
      });
      await expect.poll(() => second, { timeout: 60_000 }).toBeDefined();
      const refused = await second!;
      sim.control.clearFaults();
      const first = await firstRun;
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^sluice: Job "nightly" is already running \(run [0-9a-f-]{36}, started .+, in another Sluice process\); it was not started a second time\./,
      );
      expect(refused.stderr).toMatch(/hint: Wait for that run to finish, or cancel it/);
      expect(first.code).toBe(0);
      const events = first.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      const finished = events.find((e) => e.type === 'finished') as unknown as RunSummary;
      expect(finished).toMatchObject({ status: 'success', trigger: 'manual' });
      expect(finished.vms.map((v) => v.status)).toEqual(['success', 'success']);
    } finally {
      sim.control.clearFaults();
    }
    const history = await jobs('history', 'nightly');
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/^\S+ {2}success {5}manual .+ 2\/2 VMs/);
    const out = path.join(work, 'summary.txt');
    const summary = await jobs('summary', 'nightly', '--out', out);
    expect(summary.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^Sluice job "nightly": SUCCEEDED \(2 of 2 VM backups done\)\n/);
  });

  it('daemon: follows a schedule changed by another process, runs the job on it, stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/sluice.js'), 'daemon', '--data-dir', dataDir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect
        .poll(() => stdout, { timeout: 60_000 })
        .toMatch(
          /^Sluice daemon: 1 job\(s\) in .+\. Next run: "nightly" at .+T01:00:00\.000Z\. Press Ctrl-C to stop\.\n/,
        );
      // Changed while the daemon runs, as `sluice jobs add --file` or the app would: every second (six
      // fields, seconds first), so the daemon's next fire comes at once.
      const store = new ConfSettingsStore(dataDir);
      await store.update((s) => void (s.jobs[0]!.schedules[0]!.cron = '* * * * * *'));
      const history = new RunHistory(dataDir);
      await expect
        .poll(
          async () =>
            (await history.list({ limit: 100 })).find((r) => r.trigger === 'schedule' && r.status === 'success'),
          { timeout: 60_000, interval: 500 },
        )
        .toBeTruthy();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/Job "nightly" started \(on schedule\)/);
    // Nothing is left "running" after a clean stop.
    expect((await new RunHistory(dataDir).list({ limit: 100 })).filter((r) => r.status === 'running')).toEqual([]);
  });
  it('adds a mirror job from flags (--mirror-from) and runs it: the full points reach the second remote', async () => {
    const offsite = path.join(work, 'offsite');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(offsite);
    const wrong = await jobs(
      'add',
      '--name',
      'copy',
      '--mirror-from',
      remoteDir,
      '--remote',
      offsite,
      '--host',
      sim.url,
      '--pool',
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--host does not go with --mirror-from/);
    const added = await jobs(
      'add',
      '--name',
      'offsite copy',
      '--mirror-from',
      remoteDir,
      '--remote',
      offsite,
      '--vm',
      'db01',
      '--mode',
      'full',
      '--schedule',
      '0 4 * * 0',
      '--keep',
      '1',
    );
    expect(added.code, added.stderr).toBe(0);
    const list = await jobs('list');
    expect(list.stdout).toMatch(/offsite copy {2}mirror\(full\)/);
    const run = await jobs('run', 'offsite copy', '--json');
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const { listBackupPoints } = await import('../../src-main/repository/repository-reader.js');
    const source = (await listBackupPoints(remoteDir)).points.filter((p) => p.vmName === 'db01' && p.mode === 'full');
    const copied = (await listBackupPoints(offsite)).points;
    expect(copied.map((p) => p.id)).toEqual([source.at(-1)!.id]);
  });
});
