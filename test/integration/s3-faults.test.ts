import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withCephS3 } from '../helpers/ceph-s3.js';
import { hostArgs } from '../helpers/cli-args.js';
import { runCli } from '../helpers/cli.js';
import { vmShape } from '../helpers/restore.js';
import { MiB } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// The seed scenario against the real store: the host gives up on a client that has not read for 2 s, and the
// S3 gateway is paused (SIGSTOP) for 30 s in the middle of the upload. The spool keeps the host's export
// flowing while no part can go up; the backup succeeds in one attempt, byte-identical.

const PAUSE_MS = 30_000;
const env = withSimulator(
  {
    vms: [
      {
        name: 'big01',
        powerState: 'Halted',
        disks: [{ name: 'big01 system', size: 96 * MiB, allocated: 64 * MiB }],
      },
    ],
    faults: [
      { kind: 'stall-abort', ms: 2000, on: 'export' },
      // About 25 s of export: the pause lands in the middle and outlasts the rest of it.
      { kind: 'rate-limit', bytesPerSecond: 2.5 * MiB, on: 'export' },
    ],
  },
  { session: false },
);
const s3 = withCephS3({ own: true });
let work: string;
let bucket: string;

beforeAll(async () => {
  work = env.temp();
  bucket = await s3.bucket();
});

function gatewayPid(): number {
  return Number(readFileSync(path.join(s3.dir, 'run', 'radosgw.pid'), 'utf8').trim());
}

describe('S3 faults: the gateway paused for 30 s while the host gives up after 2 s', () => {
  it('backs up byte-identical in one attempt, the spool taking the export while the gateway is stopped', async () => {
    const remote = s3.location(bucket, 'faults');
    const pid = gatewayPid();
    let paused = false;
    let resumed: Promise<void> | undefined;
    const r = await runCli(
      [
        'backup',
        ...hostArgs(env.sim, env.passwordFile),
        ...['--vm', 'big01', '--remote', remote, '--mode', 'full'],
        ...['--data-dir', path.join(work, 'data'), '--spool-dir', work, '--buffer', '32M', '--json'],
      ],
      {
        env: s3.env(),
        timeoutMs: 170_000,
        onStdout: (text) => {
          if (paused) return;
          const last = text.trim().split('\n').pop() ?? '';
          if (!/"phase":"transfer"/.test(last) || Number(/"bytesRead":(\d+)/.exec(last)?.[1] ?? 0) < 12 * MiB) return;
          paused = true;
          process.kill(pid, 'SIGSTOP');
          resumed = new Promise<void>((resolve) =>
            setTimeout(() => {
              process.kill(pid, 'SIGCONT');
              resolve();
            }, PAUSE_MS),
          );
        },
      },
    ).finally(() => {
      // Never leave the gateway stopped, whatever happened.
      if (paused) process.kill(pid, 'SIGCONT');
    });
    await resumed;
    expect(paused).toBe(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = events.find((e) => e.type === 'result')!;
    expect(result.attempts).toBe(1);
    // The host was read on while the gateway was stopped: the spool held what the gateway could not take.
    expect(Number(result.spoolPeakBytes)).toBeGreaterThan(8 * MiB);
    // The upload's parts (3 x 8 MiB) count in the 32 MiB budget: the memory buffer holds at most the other 8 MiB.
    const memory = events.filter((e) => e.type === 'progress').map((e) => Number(e.memoryBytes ?? 0));
    expect(Math.max(...memory)).toBeGreaterThan(0);
    expect(Math.max(...memory)).toBeLessThanOrEqual(8 * MiB);
    expect((await s3.leftovers(bucket)).uploads).toEqual([]);

    const verify = await runCli(['verify', '--remote', remote], { env: s3.env() });
    expect(verify.stdout).toMatch(/1 point\(s\) checked, 0 damaged/);
    const restore = await runCli(
      [
        'restore',
        ...['--remote', remote, '--vm', 'big01', '--name', 'big01 restored'],
        ...hostArgs(env.sim, env.passwordFile),
        ...['--data-dir', path.join(work, 'data')],
      ],
      { env: s3.env(), timeoutMs: 170_000 },
    );
    expect(restore.code).toBe(0);
    const vms = env.sim.control.records('VM');
    const ref = (name: string) => Object.keys(vms).find((k) => vms[k]!.name_label === name && !vms[k]!.is_a_snapshot)!;
    const restored = await vmShape(env.sim, ref('big01 restored'));
    const source = await vmShape(env.sim, ref('big01'));
    expect(restored.disks.map((d) => d.sha256)).toEqual(source.disks.map((d) => d.sha256));
  }, 240_000);

  it('the gateway killed mid-upload: a clear failure, and the next run leaves nothing of it behind', async () => {
    const remote = s3.location(bucket, 'killed');
    const pid = gatewayPid();
    let killed = false;
    const args = [
      'backup',
      ...hostArgs(env.sim, env.passwordFile),
      ...['--vm', 'big01', '--remote', remote, '--mode', 'full'],
      ...['--data-dir', path.join(work, 'data'), '--spool-dir', work, '--buffer', '4M'],
    ];
    const failed = await runCli([...args, '--json'], {
      env: s3.env(),
      timeoutMs: 170_000,
      onStdout: (text) => {
        const last = text.trim().split('\n').pop() ?? '';
        if (
          killed ||
          !/"phase":"transfer"/.test(last) ||
          Number(/"bytesWritten":(\d+)/.exec(last)?.[1] ?? 0) < 10 * MiB
        )
          return;
        killed = true;
        process.kill(pid, 'SIGKILL');
      },
    });
    expect(killed).toBe(true);
    expect(failed.code).not.toBe(0);
    const error = failed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === 'error')!;
    expect(error.message).toMatch(/s3:\/\/.*could not be reached/);
    expect(Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true)).toHaveLength(0);

    // The gateway back: the upload the dead gateway could not abort is still there, invisible in listings.
    await s3.restart();
    expect((await s3.leftovers(bucket, 'killed/')).uploads).toHaveLength(1);
    const next = await runCli(args, { env: s3.env(), timeoutMs: 170_000 });
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/Removed leftover .*\.xva from an earlier run/);
    const after = await s3.leftovers(bucket, 'killed/');
    expect(after.uploads).toEqual([]);
    expect(after.keys.filter((k) => !/\/\d{8}T\d{6}Z\.(json|xva|xva\.checksum)$/.test(k))).toEqual([]);
    expect(after.keys).toHaveLength(3);
  }, 300_000);
});
