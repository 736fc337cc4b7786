import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import {
  checkRepository,
  describePointChains,
  listBackupPoints,
  openPointDisks,
  pointKey,
  pointSizes,
  verifyPoint,
  type BackupPoint,
} from '../../src-main/repository/index.js';
import { deleteBackupPoint } from '../../src-main/repository/point-deleter.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import { runCli } from '../helpers/cli.js';
import { testRestoreOptions, vmRefByUuid, vmShape } from '../helpers/restore.js';
import { qemuVhdToRaw } from '../helpers/vhd-fixtures.js';
import { problemKinds } from '../helpers/delta-points.js';
import { liveDisks, testBackupOptions } from '../helpers/sim.js';
import { haltedVm, systemAndData, withSimulator } from '../helpers/simulator-suite.js';

// Delta backups to a folder remote set to use VHD directories (XO's useVhdDirectory): each disk is an alias
// `<ts>.alias.vhd` and a directory `data/<ts>.vhd/`; every point lists, chains, verifies, checks and reads
// back as the disk was; a run that fails or is cancelled leaves no directory behind.

const VM = 'dirvm';
const JOB = 'job-dir';
const env = withSimulator({ vms: [haltedVm(VM, systemAndData)] });
const { temp } = env;
let vmRef: string;
let vmUuid: string;
beforeAll(async () => {
  vmRef = await env.vmRef(VM);
  vmUuid = env.sim.control.vmUuidByName(VM);
});

const options = (remote: string, extra = {}) =>
  testBackupOptions(remote, temp(), { jobId: JOB, useVhdDirectory: true, ...extra });

/** The disks of a point as restore reads them, by live VDI uuid: SHA-256 of each. */
async function pointHashes(p: BackupPoint): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const { disk, chain } of await openPointDisks(p)) {
    const h = createHash('sha256');
    for await (const piece of chain.read()) h.update(piece);
    await chain.close();
    out.set(disk.uuid, h.digest('hex'));
  }
  return out;
}

async function liveHashes(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const d of liveDisks(env.sim, VM)) out.set(d.uuid, await env.sim.control.hashVdi(d.uuid));
  return out;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('delta backups as VHD directories', () => {
  it('writes aliases and directories in XO layout; every point lists, chains, verifies, checks and restores', async () => {
    const remote = temp();
    const truth = new Map<string, Map<string, string>>();
    for (let i = 0; i < 3; i++) {
      if (i) env.sim.control.guestWrite(vmUuid, 0.1, 40 + i);
      const r = await runDeltaBackup(env.xapi, vmRef, options(remote));
      expect(r.disks.map((d) => d.differencing)).toEqual([i > 0, i > 0]);
      truth.set(r.pointId, await liveHashes());
    }
    const { points } = await listBackupPoints(remote);
    expect(points.map((p) => p.id)).toEqual([...truth.keys()]);
    let blockObjects = 0;
    const expectedSize = new Map<string, number>();
    for (const p of points) {
      if (p.metadata.mode !== 'delta') throw new Error('delta expected');
      for (const [ref, key] of Object.entries(p.metadata.vhds)) {
        // XO's names: the metadata names the alias; the alias holds `data/<ts>.vhd`, relative to itself.
        expect(key).toMatch(new RegExp(`^vdis/${JOB}/[0-9a-f-]{36}/${p.id}\\.alias\\.vhd$`));
        const alias = path.join(remote, 'xo-vm-backups', vmUuid, key);
        expect(readFileSync(alias, 'utf8')).toBe(`data/${p.id}.vhd`);
        const dir = path.join(path.dirname(alias), 'data', `${p.id}.vhd`);
        const files = filesUnder(dir);
        expect(files.filter((f) => !f.startsWith('blocks/'))).toEqual([
          'bat',
          'chunk-filters.json',
          'footer',
          'header',
        ]);
        for (const f of files.filter((f) => f.startsWith('blocks/'))) expect(f).toMatch(/^blocks\/0\/\d{1,3}$/);
        blockObjects += files.length - 4;
        expectedSize.set(
          p.id,
          (expectedSize.get(p.id) ?? 0) + 512 + 1024 + 512 + (files.length - 4) * (2 * 1024 * 1024 + 512) + 512,
        );
        expect(readFileSync(path.join(dir, 'chunk-filters.json'), 'utf8')).toBe('["brotli"]');
        expect(p.metadata.isVhdDifferencing[ref]).toBe(p.id !== points[0]!.id);
      }
      expect(await pointHashes(p), p.id).toEqual(truth.get(p.id));
      const v = await verifyPoint(p);
      expect(v).toBeTruthy();
    }
    expect(blockObjects).toBeGreaterThan(0);
    // No VHD file and no checksum file anywhere: directories only.
    const all = filesUnder(path.join(remote, 'xo-vm-backups', vmUuid, 'vdis'));
    expect(all.filter((f) => f.endsWith('.checksum.json') || /\d{8}T\d{6}Z\.vhd$/.test(f))).toEqual([]);
    const chains = await describePointChains(points);
    expect(points.map((p) => chains.get(pointKey(p)))).toEqual([
      { kind: 'base', length: 3 },
      expect.objectContaining({ kind: 'delta', position: 2, length: 3, basePointId: points[0]!.id }),
      expect.objectContaining({ kind: 'delta', position: 3, length: 3, basePointId: points[0]!.id }),
    ]);
    // Sizes count a directory as the VHD file it stands for (footer copy, header, one-sector BAT, blocks, footer).
    const sizes = await pointSizes(points);
    for (const p of points) expect(sizes.get(p)).toBe(expectedSize.get(p.id));
    const report = await checkRepository(remote);
    expect(report.found).toEqual([]);
    const check = await runCli(['check', '--remote', remote]);
    expect(check.stdout).toMatch(/0 problem\(s\) found/);
    const verify = await runCli(['verify', '--remote', remote, '--vm', VM]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    // Restore to the pool: the new VM's disks are the point's, byte for byte.
    const middle = points[1]!;
    const restored = await restorePoint(env.xapi, middle, testRestoreOptions(temp(), { points }));
    const shape = await vmShape(env.sim, vmRefByUuid(env.sim, restored.vmUuid));
    const wanted = new Map(
      liveDisks(env.sim, VM).map((d, i) => [String(i), truth.get(middle.id)!.get(d.uuid)] as const),
    );
    expect(shape.disks.map((d) => d.sha256).sort()).toEqual([...wanted.values()].sort());
    const list = await runCli(['list', '--remote', remote]);
    expect(list.code).toBe(0);
    for (const p of points) expect(list.stdout).toContain(p.id);

    // Export flattens the directory chain: the VHD (read by qemu-img) and the raw image are the disk.
    const [disk] = liveDisks(env.sim, VM);
    const newest = points[2]!;
    for (const format of ['vhd', 'raw'] as const) {
      const out = path.join(temp(), `disk.${format}`);
      const r = await runCli([
        'export',
        '--remote',
        remote,
        '--vm',
        VM,
        '--format',
        format,
        '--disk',
        disk!.uuid,
        '--out',
        out,
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const raw = format === 'vhd' ? qemuVhdToRaw(out) : out;
      const h = createHash('sha256').update(readFileSync(raw)).digest('hex');
      expect(h).toBe(truth.get(newest.id)!.get(disk!.uuid));
    }
  });

  it('a cancelled run removes the directory it began and the remote keeps its points', async () => {
    const remote = temp();
    await runDeltaBackup(env.xapi, vmRef, options(remote));
    const disksDir = path.join(remote, 'xo-vm-backups', vmUuid, 'vdis', JOB);
    const before = filesUnder(disksDir);
    env.sim.control.guestWrite(vmUuid, 0.3, 50);
    const cancel = new AbortController();
    let sawBytes = false;
    const opts = options(remote, {
      signal: cancel.signal,
      speedLimitBytesPerSec: 2 * 1024 * 1024,
      onProgress: (p: { disk: unknown; bytesWritten?: number }) => {
        if (p.disk !== null && (p.bytesWritten ?? 0) > 0 && !sawBytes) {
          sawBytes = true;
          cancel.abort();
        }
      },
    });
    await expect(runDeltaBackup(env.xapi, vmRef, opts)).rejects.toThrow(/cancel/i);
    expect(sawBytes).toBe(true);
    expect(filesUnder(disksDir)).toEqual(before);
    const check = await runCli(['check', '--remote', remote]);
    expect(check.stdout).toMatch(/0 problem\(s\) found/);
  });

  it('check names an orphan directory, a missing block and an alias that leads out; nothing outside is touched', async () => {
    const remote = temp();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      if (i) env.sim.control.guestWrite(vmUuid, 0.1, 60 + i);
      ids.push((await runDeltaBackup(env.xapi, vmRef, options(remote))).pointId);
    }
    const [disk] = liveDisks(env.sim, VM);
    const folder = path.join(remote, 'xo-vm-backups', vmUuid, 'vdis', JOB, disk!.uuid);
    const clean = (await runCli(['check', '--remote', remote, '--json'])).stdout;
    expect(problemKinds(clean)).toEqual([]);

    // A put cut short inside a directory an alias names: a temporary file, reported and removed by --repair.
    const temporary = path.join(folder, 'data', `${ids[1]}.vhd`, 'blocks', '0', '.1a2b3c.7');
    writeFileSync(temporary, 'partial');
    expect(problemKinds((await runCli(['check', '--remote', remote, '--json'])).stdout)).toEqual(['temporary-file']);
    await runCli(['check', '--remote', remote, '--repair']);
    expect(existsSync(temporary)).toBe(false);

    // A directory a killed run began: no alias names it. Reported, and removed by --repair.
    cpSync(path.join(folder, 'data', `${ids[1]}.vhd`), path.join(folder, 'data', '20200101T000000Z.vhd'), {
      recursive: true,
    });
    expect(problemKinds((await runCli(['check', '--remote', remote, '--json'])).stdout)).toEqual(['orphan-vhd']);
    await runCli(['check', '--remote', remote, '--repair']);
    expect(existsSync(path.join(folder, 'data', '20200101T000000Z.vhd'))).toBe(false);
    expect(problemKinds((await runCli(['check', '--remote', remote, '--json'])).stdout)).toEqual([]);

    // A block object gone: the point (and the later one) is broken, named, and never repaired away.
    const blocksDir = path.join(folder, 'data', `${ids[0]}.vhd`, 'blocks', '0');
    const gone = readdirSync(blocksDir)[0]!;
    const saved = readFileSync(path.join(blocksDir, gone));
    rmSync(path.join(blocksDir, gone));
    const broken = await runCli(['check', '--remote', remote, '--json']);
    expect(problemKinds(broken.stdout)).toEqual(['broken-chain', 'broken-chain']);
    expect(broken.stdout).toContain(`blocks/0/${gone}`);
    await runCli(['check', '--remote', remote, '--repair']);
    expect(filesUnder(path.join(folder, 'data')).length).toBeGreaterThan(4);
    const verify = await runCli(['verify', '--remote', remote, '--vm', VM]);
    expect(verify.code).not.toBe(0);
    expect(verify.stdout + verify.stderr).toContain(`blocks/0/${gone}`);
    writeFileSync(path.join(blocksDir, gone), saved);

    // An alias that leads outside its VM folder, to a directory of another VM: refused, never followed.
    const other = path.join(remote, 'xo-vm-backups', '00000000-0000-4000-8000-00000000cafe', 'data', 'x.vhd');
    mkdirSync(path.dirname(other), { recursive: true });
    cpSync(path.join(folder, 'data', `${ids[1]}.vhd`), other, { recursive: true });
    const alias = path.join(folder, `${ids[1]}.alias.vhd`);
    const target = path.relative(folder, other);
    expect(target.startsWith('../')).toBe(true);
    writeFileSync(alias, target);
    const hostile = await runCli(['check', '--remote', remote, '--json']);
    expect(problemKinds(hostile.stdout)).toContain('broken-chain');
    expect(hostile.stdout).toContain('outside its VM folder');
    const point = (await listBackupPoints(remote)).points.find((p) => p.id === ids[1])!;
    await expect(deleteBackupPoint(remote, point)).rejects.toThrow(/damaged/);
    await runCli(['check', '--remote', remote, '--repair']);
    expect(filesUnder(other).filter((f) => !f.startsWith('blocks/'))).toEqual([
      'bat',
      'chunk-filters.json',
      'footer',
      'header',
    ]);
    writeFileSync(alias, `data/${ids[1]}.vhd`);
    rmSync(path.dirname(path.dirname(other)), { recursive: true });

    // Deleting the newest point removes its alias and its directory, nothing else.
    const newest = (await listBackupPoints(remote)).points.find((p) => p.id === ids[1])!;
    await deleteBackupPoint(remote, newest);
    expect(readdirSync(folder).sort()).toEqual([`${ids[0]}.alias.vhd`, 'data']);
    expect(readdirSync(path.join(folder, 'data'))).toEqual([`${ids[0]}.vhd`]);
    expect(problemKinds((await runCli(['check', '--remote', remote, '--json'])).stdout)).toEqual([]);
  });
});
