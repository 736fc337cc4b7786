import { beforeAll, describe, expect, it } from 'vitest';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { withCephS3 } from '../helpers/ceph-s3.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { rawExportHash } from '../helpers/raw-export.js';
import { checkJson, deltaPoints, type DeltaVm } from '../helpers/delta-points.js';
import { testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// Issue 17, "Folder → S3 is the common case": `sluice mirror` from a local repository to a real S3 server
// (Ceph's RADOS Gateway): full points as XVA objects, incremental chains stored as XO's VHD directories there,
// checked, then only the new delta sent; and back from S3 to a folder.

const env = withSimulator();
const s3 = withCephS3();
let source: string;
let target: string;
let bucket: string;
let deltaVm: DeltaVm;
const PREFIX = 'offsite';

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { env: s3.env() });
}

/** The newest point of a VM exported as a raw image of its first disk, hashed. */
const rawOf = (remote: string, vm: string) => rawExportHash(env.temp(), remote, vm, { env: s3.env() });

function result(stdout: string) {
  return checkJson(stdout).find((e) => e.type === 'result') as {
    copied: Array<{ point: string; files: number; reused: number }>;
    alreadyThere: number;
    failed: unknown[];
  };
}

beforeAll(async () => {
  source = env.temp();
  bucket = await s3.bucket();
  target = s3.location(bucket, PREFIX);
  await runFullBackup(env.xapi, await env.vmRef('web01'), testBackupOptions(source, env.temp(), { jobId: 'job-full' }));
  deltaVm = { sim: env.sim, xapi: env.xapi, vm: 'db01', jobId: 'job-delta', temp: env.temp };
  await deltaPoints(deltaVm, source, 2, 410);
}, 240_000);

describe('sluice mirror to S3 (Ceph RGW)', () => {
  it('copies full and incremental points to S3 in XO layout there, checked, and byte-identical on export', async () => {
    const r = await cli(['mirror', '--from', source, '--to', target, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(result(r.stdout).copied).toHaveLength(3);
    const { keys, uploads } = await s3.leftovers(bucket, `${PREFIX}/`);
    expect(uploads).toEqual([]);
    expect(keys.filter((k) => k.endsWith('.xva'))).toHaveLength(1);
    // db01 has one disk: two points, two aliases, and no VHD file (S3 cannot merge one in place).
    expect(keys.filter((k) => k.endsWith('.alias.vhd'))).toHaveLength(2);
    expect(keys.filter((k) => k.endsWith('.vhd') && !k.endsWith('.alias.vhd'))).toEqual([]);
    expect(keys.some((k) => /\/data\/[^/]+\.vhd\/blocks\/\d+\/\d+$/.test(k))).toBe(true);
    const verify = await cli(['verify', '--remote', target]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(await rawOf(target, 'db01')).toBe(await rawOf(source, 'db01'));
    expect(await rawOf(target, 'web01')).toBe(await rawOf(source, 'web01'));
  }, 300_000);

  it('sends only the new delta next time, the chain on S3 reused; --retention merges there', async () => {
    await deltaPoints(deltaVm, source, 1, 430);
    const r = await cli(['mirror', '--from', source, '--to', target, '--vm', 'db01', '--retention', '2', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const res = result(r.stdout);
    expect(res.copied).toHaveLength(1);
    expect(res.copied[0]!.reused).toBeGreaterThanOrEqual(2);
    const { keys } = await s3.leftovers(bucket, `${PREFIX}/`);
    expect(keys.filter((k) => k.endsWith('.alias.vhd'))).toHaveLength(2);
    const check = await cli(['check', '--remote', target]);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    expect(await rawOf(target, 'db01')).toBe(await rawOf(source, 'db01'));
  }, 300_000);

  it('copies back from S3 to a folder: the directories come as they are, and verify there', async () => {
    const back = env.temp();
    const r = await cli(['mirror', '--from', target, '--to', back]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const verify = await cli(['verify', '--remote', back]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(await rawOf(back, 'db01')).toBe(await rawOf(source, 'db01'));
  }, 300_000);
});
