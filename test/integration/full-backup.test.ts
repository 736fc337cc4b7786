import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  promises as fs,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { verifyFullPoint } from '../../src-main/repository/verify-full-point.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { SimHandle } from '../../src-sim/index.js';
import { connect, liveDisks, MiB, smallPool, testBackupOptions } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { hashDisksInXva } from '../helpers/xva-content.js';

let sim: SimHandle;
let xapi: XapiSession;
const temps: Array<() => void> = [];
function temp() {
  const t = makeTempDir();
  temps.push(t.cleanup);
  return t.dir;
}

beforeAll(async () => {
  sim = await smallPool();
  xapi = await connect(sim);
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
});
afterEach(() => {
  sim.control.clearFaults();
  temps.splice(0).forEach((c) => c());
});

function options(remoteRoot: string, extra: Partial<BackupRunOptions> = {}) {
  return testBackupOptions(remoteRoot, temp(), extra);
}

async function vmRef(name: string): Promise<string> {
  const { selected } = await resolveVms(xapi, [name]);
  return selected[0]!.ref;
}

async function liveHashes(vmName: string): Promise<string[]> {
  return (await Promise.all(liveDisks(sim, vmName).map((d) => sim.control.hashVdi(d.uuid)))).sort();
}

function hostLeftovers() {
  const vms = Object.values(sim.control.records('VM'));
  const snapshots = vms.filter((v) => v.is_a_snapshot === true);
  const tasks = Object.values(sim.control.records('task')).filter((t) => String(t.name_label).startsWith('Sluice'));
  return { snapshots: snapshots.length, tasks: tasks.length, vdis: Object.keys(sim.control.records('VDI')).length };
}

function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('full backup against the simulated pool', () => {
  it('writes the XO layout with the right bytes, metadata last, and leaves nothing on the host', async () => {
    const remote = temp();
    const before = hostLeftovers();
    const opts = options(remote);
    const r = await runFullBackup(xapi, await vmRef('web01'), opts);
    const vmUuid = sim.control.vmUuidByName('web01');
    const dir = path.join(remote, 'xo-vm-backups', vmUuid);
    expect(readdirSync(dir).sort()).toEqual([`${r.pointId}.json`, `${r.pointId}.xva`, `${r.pointId}.xva.checksum`]);
    expect(r.pointId).toMatch(/^\d{8}T\d{6}Z$/);
    const meta = JSON.parse(readFileSync(path.join(dir, `${r.pointId}.json`), 'utf8'));
    expect(meta).toMatchObject({
      jobId: 'job-test',
      mode: 'full',
      version: '2.0.0',
      xva: `./${r.pointId}.xva`,
      size: r.bytes,
      vm: { uuid: vmUuid, name_label: 'web01' },
    });
    expect(meta.vmSnapshot.is_a_snapshot).toBe(true);
    expect(readFileSync(path.join(dir, `${r.pointId}.xva.checksum`), 'utf8')).toMatch(/^\$5\$\$[0-9a-f]{64}$/);
    expect(await hashDisksInXva(r.xvaPath, temp())).toEqual(await liveHashes('web01'));
    expect(hostLeftovers()).toEqual(before);
    expect(opts.progress.map((p) => p.phase)).toEqual(
      expect.arrayContaining(['snapshot', 'transfer', 'verify', 'commit', 'cleanup', 'done']),
    );
    const last = opts.progress.at(-1)!;
    // The transfer's end makes its total exact; while it ran, the total was an estimate from the disks' allocation.
    expect(last).toMatchObject({ phase: 'done', bytesRead: r.bytes, bytesWritten: r.bytes, totalBytes: r.bytes });
    expect(last.totalEstimate).toBeUndefined();
    expect(opts.progress.some((p) => p.phase === 'transfer' && p.totalEstimate === 'allocation')).toBe(true);
    const { points } = await listBackupPoints(remote);
    expect(points).toHaveLength(1);
    const sha = createHash('sha256').update(readFileSync(r.xvaPath)).digest('hex');
    expect(readFileSync(path.join(dir, `${r.pointId}.xva.checksum`), 'utf8')).toBe(`$5$$${sha}`);
    expect(await verifyFullPoint(points[0]!)).toEqual({ bytes: r.bytes, unchecked: [] });

    // A bit flipped on the remote afterwards is found and named.
    const fd = openSync(r.xvaPath, 'r+');
    const at = Math.floor(r.bytes / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0]! ^= 0x10;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const err = await verifyFullPoint(points[0]!).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.message).toMatch(/is damaged: .*Ref:\d+\/\d{8}/);
    expect(err.context.file).toBe(r.xvaPath);

    // A damaged checksum file is named as the file at fault, not blamed on the XVA (issue 13).
    b[0]! ^= 0x10;
    const fd2 = openSync(r.xvaPath, 'r+');
    writeSync(fd2, b, 0, 1, at); // the XVA is whole again
    closeSync(fd2);
    const checksumFile = path.join(dir, `${r.pointId}.xva.checksum`);
    writeFileSync(checksumFile, `$5$$${sha.slice(0, -1)}${sha.endsWith('0') ? '1' : '0'}`);
    const wrongSum = await verifyFullPoint(points[0]!).catch((e) => e);
    expect(wrongSum.message).toContain(`The checksum file ${checksumFile}`);
    // The chunks verify, so the disk data is intact: the checksum file or the unchecked ova.xml changed.
    expect(wrongSum.message).toContain("either the checksum file or the XVA's ova.xml");
    expect(wrongSum.context).toMatchObject({ file: checksumFile, xva: r.xvaPath });
    writeFileSync(checksumFile, '$5$$zz-not-hex');
    const garbled = await verifyFullPoint(points[0]!).catch((e) => e);
    expect(garbled.message).toContain(`The checksum file ${checksumFile}`);
    expect(garbled.message).toContain('is damaged');
    writeFileSync(checksumFile, `$5$$${sha}`);
    expect(await verifyFullPoint(points[0]!)).toEqual({ bytes: r.bytes, unchecked: [] });
  });

  it('verify: a compressed point without its checksum file is reported as not checked, never as good; a cancel stops it', async () => {
    const remote = temp();
    const r = await runFullBackup(xapi, await vmRef('web01'), options(remote, { compression: 'zstd' }));
    const { points } = await listBackupPoints(remote);
    await fs.rm(`${r.xvaPath}.checksum`);
    const result = await verifyPoint(points[0]!);
    expect(result.structureOnly).toEqual([
      { file: r.xvaPath, reason: 'compressed, and no checksum file to check it against' },
    ]);
    const controller = new AbortController();
    controller.abort();
    const err = await verifyPoint(points[0]!, { signal: controller.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('CANCELLED');
  });

  it('backs up a running VM through its snapshot', async () => {
    const remote = temp();
    const r = await runFullBackup(xapi, await vmRef('db01'), options(remote));
    expect(await hashDisksInXva(r.xvaPath, temp())).toEqual(await liveHashes('db01'));
  });

  it.each([
    [
      'the connection is dropped mid-stream',
      'drop-after=3M,times=1',
      /Attempt 1 of the export failed: The host gave up/,
    ],
    [
      'the body is an embedded HTTP error',
      'embedded-error,times=1',
      /Attempt 1 of the export failed: The host sent an error inside its export/,
    ],
    [
      'a chunk checksum is corrupt',
      'corrupt-checksum=0,times=1',
      /Attempt 1 of the export failed: .*damaged at Ref:\d+\/00000000/,
    ],
  ])('retries from the start when %s, and says why', async (_label, fault, why) => {
    const remote = temp();
    sim.control.addFault(fault);
    const opts = options(remote);
    const r = await runFullBackup(xapi, await vmRef('web01'), opts);
    expect(r.attempts).toBe(2);
    expect(opts.logs.join('\n')).toMatch(why);
    expect(await hashDisksInXva(r.xvaPath, temp())).toEqual(await liveHashes('web01'));
    expect(allFiles(remote).filter((f) => path.basename(f).startsWith('.'))).toEqual([]);
    expect(hostLeftovers().snapshots).toBe(0);
  });

  it('gives up after bounded retries with a clear message, leaving no file and no snapshot', async () => {
    const remote = temp();
    sim.control.addFault('corrupt-checksum=0');
    const opts = options(remote);
    const err = await runFullBackup(xapi, await vmRef('web01'), opts).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.message).toMatch(/damaged at Ref:\d+\/00000000/);
    expect(err.hint).toMatch(/retries/);
    expect(opts.logs.filter((l) => l.includes('Retrying'))).toHaveLength(2);
    expect(allFiles(remote)).toEqual([]);
    expect(hostLeftovers().snapshots).toBe(0);
  });

  it("follows the host's redirect to the pool member that serves the export", async () => {
    const remote = temp();
    sim.control.addFault('redirect,times=1,on=export');
    const r = await runFullBackup(xapi, await vmRef('web01'), options(remote));
    expect(await hashDisksInXva(r.xvaPath, temp())).toEqual(await liveHashes('web01'));
  });

  it('cancels: aborts the host task, removes the temp file and the snapshot, and says so', async () => {
    const remote = temp();
    sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 2 * MiB });
    const controller = new AbortController();
    const opts = options(remote, { signal: controller.signal });
    opts.onProgress = (p) => {
      if (p.phase === 'transfer' && p.bytesWritten > 1 * MiB) controller.abort();
    };
    const phases: string[] = [];
    const onProgress = opts.onProgress;
    opts.onProgress = (p) => {
      phases.push(p.phase);
      onProgress(p);
    };
    const err = await runFullBackup(xapi, await vmRef('web01'), opts).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('CANCELLED');
    expect(err.message).toBe('The backup of web01 was cancelled; its temporary files and snapshot were removed.');
    // The cleanup is shown as it happens, then the run ends as cancelled.
    expect(phases.slice(-2)).toEqual(['cleanup', 'cancelled']);
    expect(allFiles(remote)).toEqual([]);
    expect(hostLeftovers().snapshots).toBe(0);
    const tasks = Object.values(sim.control.records('task')).filter((t) => String(t.name_label).startsWith('Sluice'));
    expect(tasks).toEqual([]);
  });

  it('refuses a remote it cannot write, with what to do', async () => {
    const remote = temp();
    await fs.writeFile(path.join(remote, 'xo-vm-backups'), 'not a folder');
    const err = await runFullBackup(xapi, await vmRef('web01'), options(remote)).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('REMOTE_ERROR');
    expect(hostLeftovers().snapshots).toBe(0);
  });

  it('refuses a remote root that is not there (an unmounted share) without creating it', async () => {
    const remote = path.join(temp(), 'nas-not-mounted');
    const err = await runFullBackup(xapi, await vmRef('web01'), options(remote)).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.hint).toMatch(/mounted/);
    expect(existsSync(remote)).toBe(false);
    expect(hostLeftovers().snapshots).toBe(0);
  });

  it('cleans the leftovers of a run that died: temp files, orphans and its snapshot; older points stay', async () => {
    const remote = temp();
    const first = await runFullBackup(xapi, await vmRef('web01'), options(remote));
    const vmUuid = sim.control.vmUuidByName('web01');
    const dir = path.join(remote, 'xo-vm-backups', vmUuid);
    // What a killed run leaves: a temp file, an orphan XVA, and a marked snapshot on the host.
    await fs.writeFile(path.join(dir, '.1700000000000-abc.20990101T000000Z.xva'), 'partial');
    await fs.writeFile(path.join(dir, '20980101T000000Z.xva'), 'orphan');
    const snap = await xapi.call<string>('VM.snapshot', await vmRef('web01'), 'left behind');
    await xapi.call('VM.add_to_other_config', snap, 'sluice:backup-run', 'dead-run');
    const opts = options(remote);
    const second = await runFullBackup(xapi, await vmRef('web01'), opts);
    expect(readdirSync(dir).sort()).toEqual(
      [first.pointId, second.pointId].flatMap((id) => [`${id}.json`, `${id}.xva`, `${id}.xva.checksum`]).sort(),
    );
    expect(hostLeftovers().snapshots).toBe(0);
    expect(opts.logs.join('\n')).toMatch(/Removed leftover/);
    expect(opts.logs.join('\n')).toMatch(/snapshot left on the host/);
  });
});

describe('connecting to a pool', () => {
  it('refuses a wrong password with a clear message', async () => {
    const err = await connect(sim, 'wrong').catch((e) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/wrong username or password/);
  });

  it('follows HOST_IS_SLAVE to the coordinator', async () => {
    const s = await XapiSession.connect({
      url: sim.secondHostUrl,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: sim.secondHostFingerprint,
      fingerprintFor: () => sim.fingerprint,
    });
    expect(s.url).toBe(sim.url);
    await s.close();
  });

  it('logs in again when the host forgot the session', async () => {
    const s = await connect(sim);
    sim.control.invalidateSessions();
    expect(await s.call('VM.get_all')).toBeInstanceOf(Array);
    await s.close();
  });

  it('refuses an unreachable host, an unapproved certificate and a changed one', async () => {
    const unreachable = await XapiSession.connect({
      url: 'https://127.0.0.1:1',
      username: 'root',
      password: 'x',
      trustedFingerprint: sim.fingerprint,
    }).catch((e) => e);
    expect(unreachable.code).toBe('HOST_UNREACHABLE');
    expect(unreachable.message).toMatch(/refused the connection/);

    const untrusted = await XapiSession.connect({
      url: sim.url,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: null,
    }).catch((e) => e);
    expect(untrusted.code).toBe('CERTIFICATE_UNTRUSTED');
    expect(untrusted.message).toContain(sim.fingerprint);

    const old = sim.fingerprint;
    const fresh = await sim.control.rotateCertificate();
    try {
      const changed = await XapiSession.connect({
        url: sim.url,
        username: sim.username,
        password: sim.password,
        trustedFingerprint: old,
      }).catch((e) => e);
      expect(changed.code).toBe('CERTIFICATE_CHANGED');
      expect(changed.message).toContain(old);
      expect(changed.message).toContain(fresh);
    } finally {
      // Later tests connect with the fingerprint of the current certificate.
      xapi = await XapiSession.connect({
        url: sim.url,
        username: sim.username,
        password: sim.password,
        trustedFingerprint: fresh,
      });
    }
  });

  it('names an unknown VM and suggests close names; skips xo:no-bak', async () => {
    const err = await resolveVms(xapi, ['web']).catch((e) => e);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.hint).toMatch(/web01/);
    const { selected, skipped } = await resolveVms(xapi, ['scratch', 'web01']);
    expect(selected.map((s) => s.name)).toEqual(['web01']);
    expect(skipped).toEqual([{ name: 'scratch', reason: 'it is tagged xo:no-bak' }]);
  });
});
