import { createHash } from 'node:crypto';
import { cpSync, promises as fs, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { restoreDisk } from '../../src-main/restore/restore-disk.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { hostObjects, testRestoreOptions, vmShape } from '../helpers/restore.js';
import { connect, liveDisks, smallPool, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';
import { failure } from '../helpers/vhd-damage.js';
import { hostArgs, writePasswordFile } from '../helpers/cli-args.js';

// Faults during a restore: each gives a clear message, leaves nothing half-made on the host and never
// touches the repository.

let sim: SimHandle;
let xapi: XapiSession;
const { temp, cleanupAll } = tempDirs();
let remote: string;
let points: BackupPoint[];
let full: BackupPoint;
let delta: BackupPoint;
/** Point id → SHA-256 of each source disk (by position) when the point was taken. */
const truth = new Map<string, Record<string, string>>();

function repositoryFingerprint(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

beforeAll(async () => {
  sim = await smallPool();
  xapi = await connect(sim);
  remote = temp();
  const ref = (await resolveVms(xapi, ['web01'])).selected[0]!.ref;
  const record = async (id: string) =>
    truth.set(id, Object.fromEntries((await vmShape(sim, ref)).disks.map((d) => [d.position, d.sha256])));
  await record((await runFullBackup(xapi, ref, testBackupOptions(remote, temp()))).pointId);
  sim.control.guestWrite(sim.control.vmUuidByName('web01'), 0.05, 4);
  await record((await runDeltaBackup(xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-faults' }))).pointId);
  sim.control.guestWrite(sim.control.vmUuidByName('web01'), 0.05, 5);
  await record((await runDeltaBackup(xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-faults' }))).pointId);
  sim.control.guestWrite(sim.control.vmUuidByName('web01'), 0.05, 6);
  points = (await listBackupPoints(remote)).points;
  full = points[0]!;
  delta = points.at(-1)!;
});
afterEach(() => sim.control.clearFaults());
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

describe('restore faults', () => {
  it('the host drops the import mid-way: VDI_IO_ERROR explained, nothing half-made left, for full and incremental points', async () => {
    const repo = repositoryFingerprint(remote);
    for (const [point, on] of [
      [full, 'import'],
      [delta, 'import_raw_vdi'],
    ] as const) {
      const before = hostObjects(sim);
      sim.control.addFault({ kind: 'drop-after', bytes: 3 * 1024 * 1024, times: 1, on });
      const err = await failure(restorePoint(xapi, point, testRestoreOptions(temp(), { points })));
      expect(err.code, on).toBe('HOST_ERROR');
      expect(err.message, on).toMatch(/gave up reading or sending a disk \(VDI_IO_ERROR\)/);
      expect(hostObjects(sim), on).toEqual(before);
    }
    expect(repositoryFingerprint(remote)).toBe(repo);
  });

  it('SR full on the host: the message says so and names what to do; nothing created', async () => {
    const srs = sim.control.records('SR');
    const nfs = Object.values(srs).find((s) => s.name_label === 'NFS storage')!;
    const size = Number(nfs.physical_size);
    sim.control.setSrPhysicalSize(String(nfs.uuid), Number(nfs.physical_utilisation) + 1024);
    try {
      for (const point of [full, delta]) {
        const before = hostObjects(sim);
        const err = await failure(restorePoint(xapi, point, testRestoreOptions(temp(), { points })));
        expect(err.message, point.mode).toMatch(/storage repository is full/);
        expect(err.hint, point.mode).toMatch(/Free space on the SR or choose another SR/);
        expect(hostObjects(sim), point.mode).toEqual(before);
      }
    } finally {
      sim.control.setSrPhysicalSize(String(nfs.uuid), size);
    }
  });

  it('a full point with a disk asked onto a full SR: the copy is refused, the message names the disk and the SR; nothing left', async () => {
    const repo = repositoryFingerprint(remote);
    const local = Object.values(sim.control.records('SR')).find((s) => s.name_label === 'Local storage')!;
    const size = Number(local.physical_size);
    sim.control.setSrPhysicalSize(String(local.uuid), Number(local.physical_utilisation) + 1024);
    try {
      const before = hostObjects(sim);
      const opts = testRestoreOptions(temp(), { points, diskSrs: { '1': String(local.uuid) } });
      const err = await failure(restorePoint(xapi, full, opts));
      expect(err.code).toBe('HOST_ERROR');
      expect(err.message).toBe(
        'Moving disk 1 ("web01 data") onto the SR "Local storage" failed: The storage repository is full (SR_BACKEND_FAILURE_44).',
      );
      expect(err.hint).toMatch(/Free space on the SR or choose another SR/);
      expect(err.context).toMatchObject({ sr: local.uuid, xapiCode: 'SR_BACKEND_FAILURE_44' });
      // The import itself went through (onto NFS storage) before the copy failed: all of it is gone again.
      expect(opts.progress.some((p) => p.bytesWritten > 0)).toBe(true);
      expect(hostObjects(sim)).toEqual(before);
    } finally {
      sim.control.setSrPhysicalSize(String(local.uuid), size);
    }
    expect(repositoryFingerprint(remote)).toBe(repo);
  });

  it("cancel while a full point's disk is being moved to its SR: CANCELLED, the VM, its disks and the copy removed", async () => {
    const local = String(Object.values(sim.control.records('SR')).find((s) => s.name_label === 'Local storage')!.uuid);
    const before = hostObjects(sim);
    const controller = new AbortController();
    const opts = testRestoreOptions(temp(), { points, diskSrs: { '0': local }, signal: controller.signal });
    const log = opts.log;
    opts.log = (level, message, context) => {
      log(level, message, context);
      if (message.startsWith('Moving disk 0')) controller.abort();
    };
    const err = await failure(restorePoint(xapi, full, opts));
    expect(err.code).toBe('CANCELLED');
    expect(hostObjects(sim)).toEqual(before);
    expect(Object.values(sim.control.records('task')).filter((t) => String(t.name_label).includes('VDI.copy'))).toEqual(
      [],
    );
  });

  it('a corrupt XVA is refused before the import completes, naming the chunk; the nearest good point is suggested', async () => {
    const copy = temp();
    cpSync(remote, copy, { recursive: true, preserveTimestamps: true });
    const copied = (await listBackupPoints(copy)).points;
    const xva = path.join(path.dirname(copied[0]!.metadataPath), `${copied[0]!.id}.xva`);
    const h = await fs.open(xva, 'r+');
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, 2 * 1024 * 1024);
    b[0] = b[0]! ^ 4;
    await h.write(b, 0, 1, 2 * 1024 * 1024);
    await h.close();
    const before = hostObjects(sim);
    const err = await failure(restorePoint(xapi, copied[0]!, testRestoreOptions(temp(), { points: copied })));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.message).toMatch(/is damaged: .*checksum.* in Ref:\d+\/\d{8}/);
    expect(err.context).toMatchObject({ file: xva, damage: 'chunk-checksum' });
    expect(err.hint).toContain(`--at ${copied[1]!.id}`);
    expect(hostObjects(sim)).toEqual(before);
  });

  it('a checksum file that disagrees with an intact XVA is refused before the host has every byte, and is the file named', async () => {
    const copy = temp();
    cpSync(remote, copy, { recursive: true, preserveTimestamps: true });
    const copied = (await listBackupPoints(copy)).points;
    const xva = path.join(path.dirname(copied[0]!.metadataPath), `${copied[0]!.id}.xva`);
    const sum = readFileSync(`${xva}.checksum`, 'utf8');
    // Still in the `$5$$<hex>` form, one digit changed: the checksum file is wrong, the XVA is not.
    writeFileSync(
      `${xva}.checksum`,
      sum.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
    );
    const before = hostObjects(sim);
    const err = await failure(restorePoint(xapi, copied[0]!, testRestoreOptions(temp(), { points: copied })));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.message).toContain(`The checksum file ${xva}.checksum of web01 ${copied[0]!.id} does not match the XVA`);
    expect(err.message).toContain("either the checksum file or the XVA's ova.xml");
    expect(err.context).toMatchObject({ file: `${xva}.checksum`, xva, damage: 'file-checksum' });
    expect(hostObjects(sim)).toEqual(before);
  });

  it('a missing XVA is named as missing (not as a missing folder), and nothing reaches the host', async () => {
    const copy = temp();
    cpSync(remote, copy, { recursive: true, preserveTimestamps: true });
    const copied = (await listBackupPoints(copy)).points;
    const xva = path.join(path.dirname(copied[0]!.metadataPath), `${copied[0]!.id}.xva`);
    await fs.rm(xva);
    const before = hostObjects(sim);
    const err = await failure(restorePoint(xapi, copied[0]!, testRestoreOptions(temp(), { points: copied })));
    expect(err.message).toContain(`The XVA ${xva} of web01 ${copied[0]!.id} is missing.`);
    expect(err.hint).toContain(`--at ${copied[1]!.id}`);
    expect(hostObjects(sim)).toEqual(before);
  });

  it('cancel mid-transfer: CANCELLED, and the half-imported VM or VDI is removed from the host', async () => {
    for (const point of [full, delta]) {
      const before = hostObjects(sim);
      const controller = new AbortController();
      const opts = testRestoreOptions(temp(), {
        speedLimitBytesPerSec: 4 * 1024 * 1024,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'transfer' && p.bytesWritten > 1024 * 1024) controller.abort();
        },
      });
      const err = await failure(restorePoint(xapi, point, opts));
      expect(err.code, point.mode).toBe('CANCELLED');
      expect(hostObjects(sim), point.mode).toEqual(before);
    }
  });

  it('restores a single disk of a full or an incremental point into a new VDI, byte-identical', async () => {
    const srs = sim.control.records('SR');
    const local = String(Object.values(srs).find((s) => s.name_label === 'Local storage')!.uuid);
    const disks = liveDisks(sim, 'web01');
    for (const point of [full, delta]) {
      const before = hostObjects(sim);
      const r = await restoreDisk(
        xapi,
        point,
        '1',
        testRestoreOptions(temp(), { srUuid: local, name: `data of ${point.id}` }),
      );
      expect(r.position).toBe('1');
      expect(r.srUuid).toBe(local);
      const vdi = Object.values(sim.control.records('VDI')).find((v) => v.uuid === r.vdiUuid)!;
      expect(vdi.name_label).toBe(`data of ${point.id}`);
      expect(hostObjects(sim)).toMatchObject({ vdis: before.vdis + 1, vms: before.vms, vbds: before.vbds });
      // Byte-identical to the source disk at the time of that point.
      expect(await sim.control.hashVdi(r.vdiUuid)).toBe(truth.get(point.id)!['1']);
      expect(truth.get(point.id)!['1']).not.toBe(await sim.control.hashVdi(disks[1]!.uuid));
    }
    const err = await failure(restoreDisk(xapi, delta, '7', testRestoreOptions(temp())));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.hint).toMatch(/0 \(.*\), 1 \(/);
  });

  it('sluice restore: wrong credentials are explained and nothing is created; the right ones restore (--json)', async () => {
    const pw = path.join(temp(), 'pw');
    writeFileSync(pw, 'wrong-password\n', { mode: 0o600 });
    const dataDir = temp();
    const base = [
      'restore',
      '--remote',
      remote,
      '--vm',
      'web01',
      '--host',
      sim.url,
      '--username',
      sim.username,
      '--trust-fingerprint',
      sim.fingerprint,
      '--data-dir',
      dataDir,
    ];
    const before = hostObjects(sim);
    const bad = await runCli([...base, '--password-file', pw]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/refused the login of "root": wrong username or password/);
    expect(hostObjects(sim)).toEqual(before);

    writeFileSync(pw, `${sim.password}\n`, { mode: 0o600 });
    const ok = await runCli([...base, '--password-file', pw, '--at', full.id, '--name', 'web01 from cli', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const events = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.some((e) => e.type === 'progress' && e.phase === 'transfer')).toBe(true);
    const result = events.find((e) => e.type === 'result')!;
    expect(result).toMatchObject({ point: full.id, name: 'web01 from cli', started: false });
    expect(
      Object.values(sim.control.records('VM')).some(
        (v) => v.uuid === result.vmUuid && v.name_label === 'web01 from cli',
      ),
    ).toBe(true);
  });
});

describe('sluice restore: the default name', () => {
  it("without --name, names the new VM after the original and the point's date and tags it, so the two differ", async () => {
    const pw = writePasswordFile(temp(), sim.password);
    const args = [
      ...['restore', '--remote', remote, '--vm', 'web01', '--at', full.id],
      ...hostArgs(sim, pw),
      ...['--data-dir', temp()],
    ];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    const when = full.timestamp.toISOString();
    const name = `web01 (${when.slice(0, 10)} ${when.slice(11, 16)} UTC)`;
    // The closing line, on stderr with the progress (stdout is for --json).
    expect(r.stderr).toContain(`restored as "${name}"`);
    const vms = Object.values(sim.control.records('VM')).filter((v) => v.is_a_snapshot !== true);
    const restored = vms.filter((v) => v.name_label === name);
    expect(restored).toHaveLength(1);
    expect(restored[0]!.tags).toEqual(expect.arrayContaining(['restored from backup']));
    // The original keeps its name alone, untagged.
    expect(vms.filter((v) => v.name_label === 'web01').map((v) => v.tags)).toEqual([
      expect.not.arrayContaining(['restored from backup']),
    ]);
  });
});

describe('sluice restore --disk-sr', () => {
  it('places each named disk of a full point on its SR (--json); a malformed value or an unknown disk is refused, nothing created', async () => {
    const pw = writePasswordFile(temp(), sim.password);
    const srs = Object.values(sim.control.records('SR'));
    const local = String(srs.find((s) => s.name_label === 'Local storage')!.uuid);
    const nfs = String(srs.find((s) => s.name_label === 'NFS storage')!.uuid);
    const base = [
      ...['restore', '--remote', remote, '--vm', 'web01', '--at', full.id],
      ...hostArgs(sim, pw),
      ...['--data-dir', temp()],
    ];
    const before = hostObjects(sim);

    const malformed = await runCli([...base, '--disk-sr', `1:${local}`]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain(
      `--disk-sr takes DISK=SR_UUID (the disk's position or uuid, then the SR's uuid), e.g. 1=6a7b3c4d-0000-4000-8000-000000000001; not "1:${local}".`,
    );
    const unknown = await runCli([...base, '--disk-sr', `9=${local}`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/has no disk "9"/);
    expect(unknown.stderr).toMatch(/hint: Give a disk uuid or position: 0 \(/);
    expect(hostObjects(sim)).toEqual(before);

    const ok = await runCli([...base, '--sr', nfs, '--disk-sr', `1=${local}`, '--name', 'web01 split', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const result = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === 'result')!;
    expect(result.disks).toEqual([
      { position: '0', vdiUuid: expect.any(String), srUuid: nfs },
      { position: '1', vdiUuid: expect.any(String), srUuid: local },
    ]);
    const vdis = Object.values(sim.control.records('VDI'));
    for (const d of result.disks as Array<{ position: string; vdiUuid: string; srUuid: string }>) {
      const vdi = vdis.find((v) => v.uuid === d.vdiUuid)!;
      expect(sim.control.records('SR')[String(vdi.SR)]!.uuid).toBe(d.srUuid);
      expect(await sim.control.hashVdi(d.vdiUuid)).toBe(truth.get(full.id)![d.position]);
    }
  });
});
