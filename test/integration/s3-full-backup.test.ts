import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { openRemote } from '../../src-main/remotes/remote-registry.js';
import { deleteBackupPoint, listBackupPoints } from '../../src-main/repository/index.js';
import { withCephS3 } from '../helpers/ceph-s3.js';
import { hostArgs } from '../helpers/cli-args.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { vmShape } from '../helpers/restore.js';
import { MiB, smallPool } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// Full backups to a real S3 server (Ceph's RADOS Gateway) through the CLI, as an admin runs them: the keys in
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the remote an s3:// URL; then every command that reads full points.

const env = withSimulator(smallPool, { session: false });
const s3 = withCephS3();
let work: string;
let bucket: string;
let remote: string;
const PREFIX = 'site-a/backups';

beforeAll(async () => {
  work = env.temp();
  bucket = await s3.bucket();
  remote = s3.location(bucket, PREFIX);
});

function cli(args: string[], opts: Parameters<typeof runCli>[1] = {}): Promise<CliResult> {
  return runCli(args, { ...opts, env: { ...s3.env(), ...opts.env } });
}

function backupArgs(mode: 'full' | 'delta', extra: string[] = []): string[] {
  return [
    'backup',
    ...hostArgs(env.sim, env.passwordFile),
    ...['--vm', 'web01', '--remote', remote, '--mode', mode],
    ...['--data-dir', path.join(work, 'data'), '--spool-dir', work, '--buffer', '4M'],
    ...extra,
  ];
}

async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

async function objectSha256(key: string): Promise<string> {
  const out = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256Of(out.Body as Readable);
}

/** The objects under the prefix, without it, sorted; and the multipart uploads in progress there. */
async function stored(): Promise<{ keys: string[]; uploads: string[] }> {
  const l = await s3.leftovers(bucket, `${PREFIX}/`);
  return { keys: l.keys.map((k) => k.slice(PREFIX.length + 1)).sort(), uploads: l.uploads };
}

function snapshotsOnHost(): number {
  return Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true).length;
}

describe('full backups to S3 (Ceph RGW) from the CLI', () => {
  let firstPoint: string;
  let vmUuid: string;

  it('backs up web01 as XO lays it out, restarting the upload when the host cuts the export', async () => {
    // The first export is cut after 10 MiB (a part already uploaded): the retry must start a new upload.
    env.sim.control.addFault({ kind: 'drop-after', bytes: 10 * MiB, times: 1, on: 'export' });
    const r = await cli(backupArgs('full', ['--json']));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const result = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === 'result')!;
    expect(result.attempts).toBe(2);
    firstPoint = String(result.point);
    vmUuid = String(result.vmUuid);
    const { keys, uploads } = await stored();
    expect(uploads).toEqual([]);
    const vm = `xo-vm-backups/${vmUuid}`;
    expect(keys).toEqual([`${vm}/${firstPoint}.json`, `${vm}/${firstPoint}.xva`, `${vm}/${firstPoint}.xva.checksum`]);
    const checksum = await (
      await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${vm}/${firstPoint}.xva.checksum` }))
    ).Body!.transformToString();
    expect(checksum).toBe(`$5$$${await objectSha256(`${PREFIX}/${vm}/${firstPoint}.xva`)}`);
    const metadata = JSON.parse(
      await (
        await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}/${vm}/${firstPoint}.json` }))
      ).Body!.transformToString(),
    ) as Record<string, unknown>;
    expect(metadata).toMatchObject({ mode: 'full', xva: `./${firstPoint}.xva` });
    expect(snapshotsOnHost()).toBe(0);
  }, 180_000);

  it('lists, verifies and checks the point on S3', async () => {
    const list = await cli(['list', '--remote', remote]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`web01 (${vmUuid})`);
    expect(list.stdout).toMatch(new RegExp(`${firstPoint} {2}full`));
    const verify = await cli(['verify', '--remote', remote, '--vm', 'web01', '--at', 'latest']);
    expect(verify.stdout).toMatch(/1 point\(s\) checked, 0 damaged/);
    expect(verify.code).toBe(0);
    const check = await cli(['check', '--remote', remote]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  }, 120_000);

  it('exports the point byte-identical: the XVA as stored, each disk as the host has it', async () => {
    const xva = path.join(work, 'out.xva');
    const x = await cli(['export', '--remote', remote, '--vm', 'web01', '--format', 'xva', '--out', xva]);
    expect(x.code).toBe(0);
    expect(await sha256Of(createReadStream(xva))).toBe(
      await objectSha256(`${PREFIX}/xo-vm-backups/${vmUuid}/${firstPoint}.xva`),
    );
    const raw = path.join(work, 'disk0.raw');
    const d = await cli([
      'export',
      '--remote',
      remote,
      '--vm',
      'web01',
      '--format',
      'raw',
      '--disk',
      '0',
      '--out',
      raw,
    ]);
    expect(d.code).toBe(0);
    const vms = env.sim.control.records('VM');
    const source = Object.keys(vms).find((ref) => vms[ref]!.name_label === 'web01' && !vms[ref]!.is_a_snapshot)!;
    const disk0 = (await vmShape(env.sim, source)).disks.find((k) => k.position === '0')!;
    expect(await sha256Of(createReadStream(raw))).toBe(disk0.sha256);
  }, 120_000);

  it('restores the point to the pool with the same disks', async () => {
    const r = await cli([
      'restore',
      ...['--remote', remote, '--vm', 'web01', '--name', 'web01 from s3'],
      ...hostArgs(env.sim, env.passwordFile),
      ...['--data-dir', path.join(work, 'data')],
    ]);
    expect(r.code).toBe(0);
    const vms = env.sim.control.records('VM');
    const ref = (name: string) => Object.keys(vms).find((k) => vms[k]!.name_label === name && !vms[k]!.is_a_snapshot)!;
    const restored = await vmShape(env.sim, ref('web01 from s3'));
    const source = await vmShape(env.sim, ref('web01'));
    expect(restored.disks.map((d) => d.sha256)).toEqual(source.disks.map((d) => d.sha256));
  }, 120_000);

  it('a failed full backup aborts its upload and leaves nothing under the prefix', async () => {
    const before = await stored();
    // Every attempt is cut after 10 MiB: the run fails after its retries.
    const id = env.sim.control.addFault({ kind: 'drop-after', bytes: 10 * MiB, on: 'export' });
    try {
      const r = await cli(backupArgs('full'), { timeoutMs: 170_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/web01/);
    } finally {
      env.sim.control.removeFault(id);
    }
    expect(await stored()).toEqual(before);
    expect(snapshotsOnHost()).toBe(0);
  }, 180_000);

  it('a cancelled full backup (Ctrl-C mid-upload) aborts its upload and leaves nothing', async () => {
    const before = await stored();
    let sent = false;
    const r = await cli(backupArgs('full', ['--json', '--speed-limit', '2M']), {
      onStdout: (text, child) => {
        const last = text.trim().split('\n').pop() ?? '';
        if (!sent && /"phase":"transfer"/.test(last) && Number(/"bytesWritten":(\d+)/.exec(last)?.[1] ?? 0) > 9 * MiB) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cancelled/i);
    expect(await stored()).toEqual(before);
    expect(
      snapshotsOnHost(),
      r.stdout
        .split('\n')
        .filter((l) => /snapshot|task|export/i.test(l) && !/progress/.test(l))
        .join('\n'),
    ).toBe(0);
  }, 180_000);

  it('retention deletes older points on S3; a point is deleted through the repository', async () => {
    const second = await cli(backupArgs('full', ['--retention', '1', '--json']));
    expect(second.code).toBe(0);
    const { keys, uploads } = await stored();
    expect(uploads).toEqual([]);
    expect(keys.some((k) => k.includes(firstPoint))).toBe(false);
    expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(1);

    const repo = openRemote(remote, { credentials: s3.credentials });
    const { points } = await listBackupPoints(repo);
    expect(points).toHaveLength(1);
    await deleteBackupPoint(repo, points[0]!);
    expect(await stored()).toEqual({ keys: [], uploads: [] });
  }, 180_000);

  it('says clearly when the secret key is wrong or the bucket is missing', async () => {
    const wrong = await cli(['list', '--remote', remote], {
      env: { AWS_SECRET_ACCESS_KEY: 'not-the-secret-key-at-all-0000000000000' },
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('SignatureDoesNotMatch');
    expect(wrong.stderr).toMatch(/AWS_SECRET_ACCESS_KEY/);
    const missing = await cli(['list', '--remote', s3.location('no-such-bucket-anywhere')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('the bucket does not exist');
    const noKeys = await runCli(['list', '--remote', remote], {
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
    });
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.stderr).toMatch(/No keys for the S3 remote/);
  }, 60_000);

  it('jobs add saves an S3 --remote with the keys of the environment; jobs run then needs no environment', async () => {
    const dataDir = path.join(work, 'jobs-data');
    const jobsRemote = s3.location(bucket, 'jobs');
    const add = await cli([
      'jobs',
      'add',
      ...['--name', 'offsite', ...hostArgs(env.sim, env.passwordFile), '--remote', jobsRemote],
      ...['--vm', 'web01', '--mode', 'full', '--schedule', '0 3 * * *', '--keep', '2', '--data-dir', dataDir],
    ]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const settings = readFileSync(path.join(dataDir, 'settings.json'), 'utf8');
    expect(settings).toContain(jobsRemote);
    expect(settings).not.toContain(s3.credentials.secretAccessKey);
    const run = await runCli(['jobs', 'run', 'offsite', '--data-dir', dataDir], {
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
    });
    expect(run.code).toBe(0);
    const l = await s3.leftovers(bucket, 'jobs/');
    expect(l.uploads).toEqual([]);
    expect(l.keys.filter((k) => k.endsWith('.xva'))).toHaveLength(1);
  }, 120_000);
  // Last: an incremental job keeps its base snapshot on the host, which the tests above count.
  it("backs up incrementally as VHD directories (XO's form on S3), merges with retention, restores the newest point", async () => {
    const vmUuid = env.sim.control.vmUuidByName('web01');
    for (let i = 0; i < 3; i++) {
      if (i > 0) env.sim.control.guestWrite(vmUuid, 0.1, 700 + i);
      const r = await cli(backupArgs('delta', ['--retention', '2']));
      expect(r.code, r.stderr).toBe(0);
    }
    const { keys, uploads } = await stored();
    expect(uploads).toEqual([]);
    const aliases = keys.filter((k) => k.endsWith('.alias.vhd'));
    // Two points kept, two disks each: the oldest was merged into the next.
    expect(aliases).toHaveLength(4);
    expect(keys.some((k) => /\/data\/[^/]+\.vhd\/blocks\/\d+\/\d+$/.test(k))).toBe(true);
    expect(keys.filter((k) => k.endsWith('.vhd') && !k.endsWith('.alias.vhd'))).toEqual([]);
    const verify = await cli(['verify', '--remote', remote]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const check = await cli(['check', '--remote', remote]);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    const r = await cli([
      'restore',
      ...['--remote', remote, '--vm', 'web01', '--name', 'web01 delta from s3'],
      ...hostArgs(env.sim, env.passwordFile),
      ...['--data-dir', path.join(work, 'data')],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const vms = env.sim.control.records('VM');
    const ref = (name: string) => Object.keys(vms).find((k) => vms[k]!.name_label === name && !vms[k]!.is_a_snapshot)!;
    const restored = await vmShape(env.sim, ref('web01 delta from s3'));
    const source = await vmShape(env.sim, ref('web01'));
    expect(restored.disks.map((d) => d.sha256)).toEqual(source.disks.map((d) => d.sha256));
    // The newest point's snapshot stays on the host as the next base, as with any incremental job.
    expect(snapshotsOnHost()).toBe(1);
  }, 300_000);
});
