import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { runMirror } from '../../src-main/mirror/mirror-run.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { xvaPathOf } from '../../src-main/repository/index.js';
import { runCli } from '../helpers/cli.js';
import { rawExportHash } from '../helpers/raw-export.js';
import { checkJson, deltaPoints, firstDisk, vhdFiles, type DeltaVm } from '../helpers/delta-points.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';
import { testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// Issue 17, "Copies to a second remote": `sluice mirror` copies a repository's points to another one without
// the host, full and incremental, checked on the way, resumable, with its own retention on the target.

const env = withSimulator();
let source: string;
let deltaVm: DeltaVm;
let truth: Map<string, string>;
let fullId: string;

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Every file under `dir` (relative), for "nothing left behind" checks. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const rel of await fs.readdir(dir, { recursive: true }))
    if ((await fs.stat(path.join(dir, rel))).isFile()) out.push(rel);
  return out.sort();
}

/** Every delta point of `remote` reads back (through Sluice's chain reader) as the source disk was. */
async function expectDeltasRestorable(remote: string, expected: Map<string, string>): Promise<void> {
  const deltas = (await listBackupPoints(remote)).points.filter((p) => p.mode === 'delta');
  expect(deltas.map((p) => p.id).sort()).toEqual([...expected.keys()].sort());
  for (const p of deltas)
    expect(await chainDigest(await pointChain(p, firstDisk(deltaVm))), p.id).toBe(expected.get(p.id));
}

/** The newest point of a VM exported as a raw image through the CLI, hashed. */
const rawOf = (remote: string, vm: string, extra: string[] = []) => rawExportHash(env.temp(), remote, vm, { extra });

const summary = (ps: Awaited<ReturnType<typeof listBackupPoints>>['points']) =>
  ps.map((p) => `${p.vmUuid} ${p.id} ${p.mode} ${p.jobId}`).sort();

function mirrorResult(stdout: string) {
  return checkJson(stdout).find((e) => e.type === 'result') as {
    copied: Array<{ point: string; files: number; reused: number }>;
    alreadyThere: number;
    deletedOnTarget: unknown[];
    failed: Array<{ message: string }>;
  };
}

beforeAll(async () => {
  source = env.temp();
  const web = await env.vmRef('web01');
  fullId = (await runFullBackup(env.xapi, web, testBackupOptions(source, env.temp(), { jobId: 'job-full' }))).pointId;
  deltaVm = { sim: env.sim, xapi: env.xapi, vm: 'db01', jobId: 'job-mirror', temp: env.temp };
  truth = await deltaPoints(deltaVm, source, 3, 170);
}, 180_000);

describe('sluice mirror', () => {
  it('copies full and incremental points, byte for byte and verifiable; a second run copies nothing', async () => {
    const target = env.temp();
    const r = await runCli(['mirror', '--from', source, '--to', target, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const result = mirrorResult(r.stdout);
    expect(result.copied).toHaveLength(4);
    expect(result.failed).toEqual([]);
    expect(checkJson(r.stdout).some((e) => e.type === 'progress')).toBe(true);

    const [src, dst] = [await listBackupPoints(source), await listBackupPoints(target)];
    expect(summary(dst.points)).toEqual(summary(src.points));
    const full = (ps: typeof src.points) => ps.find((p) => p.id === fullId && p.mode === 'full')!;
    expect(await sha256(xvaPathOf(full(dst.points)))).toBe(await sha256(xvaPathOf(full(src.points))));
    await expectDeltasRestorable(target, truth);
    const verify = await runCli(['verify', '--remote', target]);
    expect(verify.code, verify.stderr).toBe(0);
    // The source is only read.
    expect(summary((await listBackupPoints(source)).points)).toEqual(summary(src.points));

    const again = await runCli(['mirror', '--from', source, '--to', target, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(mirrorResult(again.stdout)).toMatchObject({ copied: [], alreadyThere: 4 });
  });

  it('sends only what is new: a new delta point is one VHD (and its digests), its chain reused', async () => {
    const target = env.temp();
    expect((await runCli(['mirror', '--from', source, '--to', target, '--vm', 'db01'])).code).toBe(0);
    const more = await deltaPoints(deltaVm, source, 1, 190);
    for (const [k, v] of more) truth.set(k, v);
    const r = await runCli(['mirror', '--from', source, '--to', target, '--vm', 'db01', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = mirrorResult(r.stdout);
    expect(result.copied).toHaveLength(1);
    expect(result.copied[0]!.files).toBeLessThanOrEqual(2);
    expect(result.copied[0]!.reused).toBeGreaterThanOrEqual(3);
    await expectDeltasRestorable(target, truth);
    // --vm keeps other VMs out.
    expect((await listBackupPoints(target)).points.every((p) => p.vmName === 'db01')).toBe(true);
  });

  it('--retention N sends only the newest N per series and keeps the target to them, chains merged', async () => {
    const target = env.temp();
    const r = await runCli(['mirror', '--from', source, '--to', target, '--retention', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const dst = (await listBackupPoints(target)).points;
    const deltas = dst.filter((p) => p.mode === 'delta').map((p) => p.id);
    const newest = [...truth.keys()].sort().slice(-2);
    expect(deltas.sort()).toEqual(newest);
    expect(dst.filter((p) => p.mode === 'full').map((p) => p.id)).toEqual([fullId]);
    await expectDeltasRestorable(target, new Map(newest.map((id) => [id, truth.get(id)!])));
    const vm = dst.find((p) => p.mode === 'delta')!;
    const diskDir = path.join(target, 'xo-vm-backups', vm.vmUuid, 'vdis', 'job-mirror', firstDisk(deltaVm));
    // The chain's older files came along (the newest points need them) and were folded in: two files, two points.
    expect(vhdFiles(diskDir)).toHaveLength(2);
    const check = await runCli(['check', '--remote', target, '--json']);
    expect(check.code, check.stdout).toBe(0);
  });

  it('refuses a target file that is not the source one, copies nothing of that series, and leaves no partial file', async () => {
    const target = env.temp();
    const [first] = (await listBackupPoints(source)).points.filter((p) => p.mode === 'delta');
    const vhd = Object.values((first!.metadata as { vhds: Record<string, string> }).vhds)[0]!;
    const planted = path.join(target, 'xo-vm-backups', first!.vmUuid, vhd);
    await fs.mkdir(path.dirname(planted), { recursive: true });
    await fs.writeFile(planted, 'not the VHD the source holds');
    const r = await runCli(['mirror', '--from', source, '--to', target, '--vm', 'db01', '--json']);
    expect(r.code).toBe(1);
    expect(mirrorResult(r.stdout).failed[0]!.message).toMatch(/is not the disk file .* of the backup db01/);
    expect(await fs.readFile(planted, 'utf8')).toBe('not the VHD the source holds');
    expect((await listBackupPoints(target)).points).toEqual([]);
    // Nothing but the planted file and the remote's marker (remote-marker.ts).
    expect(
      (await filesUnder(target)).filter((f) => !f.endsWith(path.basename(planted)) && f !== '.sluice-remote.json'),
    ).toEqual([]);
  });

  it('a cancelled mirror leaves no partial file and the next run completes', async () => {
    const target = env.temp();
    const controller = new AbortController();
    let progressSeen = 0;
    const run = runMirror({
      from: new FolderRemote(source),
      to: new FolderRemote(target),
      vms: ['web01'],
      runId: 'mirror-cancel',
      signal: controller.signal,
      log: () => {},
      // Cancelled as soon as bytes move: the XVA is mid-copy.
      onProgress: () => {
        if (++progressSeen === 1) controller.abort(new Error('test cancel'));
      },
      memoryBufferBytes: 1024 * 1024,
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect((await filesUnder(target)).filter((f) => !f.includes('.lock') && f !== '.sluice-remote.json')).toEqual([]);
    const r = await runCli(['mirror', '--from', source, '--to', target, '--vm', 'web01']);
    expect(r.code, r.stderr).toBe(0);
    expect((await listBackupPoints(target)).points.map((p) => p.id)).toEqual([fullId]);
  });

  it("copies full points into an encrypted remote (XO's format), which then reads only with its key", async () => {
    const target = env.temp();
    const keyFile = path.join(env.temp(), 'offsite.key');
    await fs.writeFile(keyFile, 'k'.repeat(16) + 'e'.repeat(16), { mode: 0o600 });
    const r = await runCli([
      'mirror',
      '--from',
      source,
      '--to',
      target,
      '--vm',
      'web01',
      '--to-encryption-key-file',
      keyFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const files = await filesUnder(target);
    expect(files).toContain('encryption.json');
    // XO writes no checksum file on an encrypted remote; the XVA is not stored in the clear.
    expect(files.filter((f) => f.endsWith('.xva.checksum'))).toEqual([]);
    const xva = files.find((f) => f.endsWith('.xva'))!;
    const head = (await fs.readFile(path.join(target, xva))).subarray(0, 512);
    expect(head.includes(Buffer.from('ova.xml'))).toBe(false);
    const verify = await runCli(['verify', '--remote', target, '--encryption-key-file', keyFile]);
    expect(verify.code, verify.stderr).toBe(0);
    const list = await runCli(['list', '--remote', target, '--encryption-key-file', keyFile, '--json']);
    expect(JSON.parse(list.stdout).points.map((p: { id: string }) => p.id)).toEqual([fullId]);
    expect((await runCli(['list', '--remote', target])).code).not.toBe(0);
  });

  it('copies a chain of VHD directories as directories, and a chain of VHD files into an encrypted remote as directories', async () => {
    // A chain written as XO writes it on object storage.
    const dirSource = env.temp();
    const ref = await env.vmRef('db01');
    for (let i = 0; i < 2; i++) {
      if (i > 0) env.sim.control.guestWrite(env.sim.control.vmUuidByName('db01'), 0.2, 300 + i);
      await runDeltaBackup(
        env.xapi,
        ref,
        testBackupOptions(dirSource, env.temp(), { jobId: 'job-dirs', useVhdDirectory: true }),
      );
    }
    const dirTarget = env.temp();
    const r = await runCli(['mirror', '--from', dirSource, '--to', dirTarget, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(mirrorResult(r.stdout).copied).toHaveLength(2);
    expect((await filesUnder(dirTarget)).filter((f) => f.endsWith('.alias.vhd'))).toHaveLength(2);
    expect((await runCli(['verify', '--remote', dirTarget])).code).toBe(0);
    expect(await rawOf(dirTarget, 'db01')).toBe(await rawOf(dirSource, 'db01'));

    // VHD files into a remote that takes only directories (encrypted: no file is changed in place).
    const encrypted = env.temp();
    const keyFile = path.join(env.temp(), 'key');
    await fs.writeFile(keyFile, 'z'.repeat(32), { mode: 0o600 });
    const e = await runCli([
      'mirror',
      '--from',
      source,
      '--to',
      encrypted,
      '--vm',
      'db01',
      '--to-encryption-key-file',
      keyFile,
    ]);
    expect(e.code, e.stderr).toBe(0);
    const files = await filesUnder(encrypted);
    expect(files.filter((f) => f.endsWith('.alias.vhd')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.endsWith('.vhd') && !f.endsWith('.alias.vhd') && !f.includes('/data/'))).toEqual([]);
    const key = ['--encryption-key-file', keyFile];
    const verify = await runCli(['verify', '--remote', encrypted, ...key]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    expect(await rawOf(encrypted, 'db01', key)).toBe(await rawOf(source, 'db01'));
  });

  it('says what is wrong with the arguments: the same remote twice, a VM the source lacks, a missing remote', async () => {
    const same = await runMirror({
      from: new FolderRemote(source),
      to: new FolderRemote(source),
      runId: 'x',
      log: () => {},
    }).catch((e: unknown) => e);
    expect(same).toBeInstanceOf(SluiceError);
    expect((same as SluiceError).message).toMatch(/same remote/);
    const vm = await runCli(['mirror', '--from', source, '--to', env.temp(), '--vm', 'nosuchvm']);
    expect(vm.code).not.toBe(0);
    expect(vm.stderr).toMatch(/no backup of a VM named "nosuchvm"/);
    const missing = await runCli(['mirror', '--from', source, '--to', path.join(env.temp(), 'not-mounted')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/does not exist/);
    const bad = await runCli(['mirror', '--from', source, '--to', env.temp(), '--retention', '0']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--retention takes a whole number/);
  });
});
