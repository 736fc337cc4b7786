import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { exportPoint } from '../../src-main/export/export-point.js';
import { decodeFooter, decodeHeader, encodeHeader, HEADER_SIZE } from '../../src-main/formats/vhd/vhd-structures.js';
import { checkRepository } from '../../src-main/repository/repository-check.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { SimHandle } from '../../src-sim/index.js';
import { startSimulator } from '../../src-sim/index.js';
import { hostObjects, pointById, testRestoreOptions } from '../helpers/restore.js';
import { connect, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Issue 13: every path that comes from repository content (metadata names, VHD parent names, links) is
// confined to its VM folder. Each test plants one hostile repository whose bait outside the repository is a
// perfect copy of the real file, so following the name would *work*: the only acceptable outcome is a refusal
// that names the file, with the outside left exactly as it was (same files, same bytes, same mtimes).

let sim: SimHandle;
let xapi: XapiSession;
const { temp, cleanupAll } = tempDirs();
beforeAll(async () => {
  sim = await startSimulator({
    vms: [
      { name: 'app', powerState: 'Halted', disks: [{ name: 'app system', size: 8 * MiB, allocated: 2 * MiB }] },
      { name: 'web', powerState: 'Halted', disks: [{ name: 'web system', size: 8 * MiB, allocated: 2 * MiB }] },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

const vmRef = async (name: string) => (await resolveVms(xapi, [name])).selected[0]!.ref;
const options = (remoteRoot: string, extra: Partial<BackupRunOptions> = {}) =>
  testBackupOptions(remoteRoot, temp(), { jobId: 'job-hostile', ...extra });

/** Names, sizes, mtimes and digests of everything under a folder: what "left alone" means. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[path.relative(dir, p)] = `link to ${readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        const digest = createHash('sha256').update(readFileSync(p)).digest('hex');
        out[path.relative(dir, p)] = `${s.size} ${s.mtimeMs} ${digest}`;
      }
    }
  };
  walk(dir);
  return out;
}

function filesUnder(dir: string): string[] {
  return Object.keys(fingerprint(dir)).sort();
}

/** A fresh repository with one remote root and, beside it, an outside folder the repository must never touch. */
function layout() {
  const base = temp();
  const remote = path.join(base, 'repo');
  const outside = path.join(base, 'outside');
  mkdirSync(remote);
  mkdirSync(outside);
  return { remote, outside };
}

async function points(remote: string): Promise<{ points: BackupPoint[]; unreadable: string[] }> {
  const r = await listBackupPoints(remote);
  return { points: r.points, unreadable: r.unreadable.map((u) => `${u.path}: ${u.reason}`) };
}

/** Every way an admin can use a point: each must refuse it (never read the bait), and leave nothing behind. */
async function expectEveryUseRefused(point: BackupPoint, named: string) {
  const host = hostObjects(sim);
  await expect(verifyPoint(point)).rejects.toThrow(named);
  await expect(restorePoint(xapi, point, testRestoreOptions(temp()))).rejects.toThrow();
  expect(hostObjects(sim)).toEqual(host);
  const out = path.join(temp(), 'out.xva');
  await expect(
    exportPoint(point, { format: 'xva', out, runId: 'export-hostile', log: () => {}, onProgress: () => {} }),
  ).rejects.toThrow();
  expect(existsSync(out)).toBe(false);
}

/** The next backup with retention 1 and `check --repair`: neither may write or delete anything outside. */
async function expectHousekeepingConfined(
  remote: string,
  outside: string,
  backup: () => Promise<unknown>,
  keepInside: string[] = [],
) {
  const before = fingerprint(outside);
  await backup();
  await checkRepository(remote, { repair: true });
  expect(fingerprint(outside)).toEqual(before);
  const inside = filesUnder(remote);
  for (const f of keepInside) expect(inside, f).toContain(f);
}

/** Two incremental points of `app` (the guest writes between them), oldest first, each with its one VHD's path. */
async function twoDeltaPoints(remote: string, seed: number): Promise<Array<{ id: string; vhd: string }>> {
  const vmUuid = sim.control.vmUuidByName('app');
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    sim.control.guestWrite(vmUuid, 0.1, seed + i);
    ids.push((await runDeltaBackup(xapi, await vmRef('app'), options(remote))).pointId);
  }
  const listed = (await points(remote)).points;
  const dir = path.join(remote, 'xo-vm-backups', vmUuid);
  return ids.map((id) => {
    const vhds = (pointById(listed, id).metadata as { vhds: Record<string, string> }).vhds;
    return { id, vhd: path.join(dir, Object.values(vhds)[0]!) };
  });
}

/** The next incremental backup of `app` with retention 1; it may fail on the planted damage, never outside. */
async function nextDeltaWithRetention(remote: string, seed: number): Promise<void> {
  sim.control.guestWrite(sim.control.vmUuidByName('app'), 0.1, seed);
  await runDeltaBackup(xapi, await vmRef('app'), options(remote, { retention: { keep: 1 } })).catch(() => {});
}

describe('a hostile repository: nothing outside it is read, written or deleted', () => {
  it('full point: metadata naming an XVA by ../ or by absolute path is unreadable and holds its folder', async () => {
    const vmUuid = sim.control.vmUuidByName('web');
    for (const style of ['relative', 'absolute'] as const) {
      const { remote, outside } = layout();
      const first = await runFullBackup(xapi, await vmRef('web'), options(remote));
      const dir = path.join(remote, 'xo-vm-backups', vmUuid);
      const bait = path.join(outside, 'victim.xva');
      copyFileSync(path.join(dir, `${first.pointId}.xva`), bait);
      copyFileSync(path.join(dir, `${first.pointId}.xva.checksum`), `${bait}.checksum`);
      const metaFile = path.join(dir, `${first.pointId}.json`);
      const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { xva: string };
      meta.xva = style === 'relative' ? path.relative(dir, bait) : bait;
      writeFileSync(metaFile, JSON.stringify(meta));

      const listed = await points(remote);
      expect(listed.points.map((p) => p.id)).not.toContain(first.pointId);
      expect(listed.unreadable.join('\n')).toContain(`${first.pointId}.json`);
      const rel = path.relative(remote, dir);
      await expectHousekeepingConfined(
        remote,
        outside,
        async () => runFullBackup(xapi, await vmRef('web'), options(remote, { retention: { keep: 1 } })),
        [path.join(rel, `${first.pointId}.xva`), path.join(rel, `${first.pointId}.json`)],
      );
    }
  });

  it('full point: an XVA or its metadata that is a link out of the repository is never followed', async () => {
    const vmUuid = sim.control.vmUuidByName('web');
    for (const linked of ['xva', 'json'] as const) {
      const { remote, outside } = layout();
      const first = await runFullBackup(xapi, await vmRef('web'), options(remote));
      const dir = path.join(remote, 'xo-vm-backups', vmUuid);
      const real = path.join(dir, `${first.pointId}.${linked}`);
      const bait = path.join(outside, `victim.${linked}`);
      renameSync(real, bait);
      symlinkSync(bait, real);

      const listed = await points(remote);
      if (linked === 'json') {
        expect(listed.points.map((p) => p.id)).not.toContain(first.pointId);
        expect(listed.unreadable.join('\n')).toContain('link');
      } else {
        await expectEveryUseRefused(pointById(listed.points, first.pointId), `${first.pointId}.xva`);
      }
      await expectHousekeepingConfined(remote, outside, async () => {
        // Retention may not delete a point through its link: the run says so, naming the file, and goes no further.
        const run = runFullBackup(xapi, await vmRef('web'), options(remote, { retention: { keep: 1 } }));
        if (linked === 'xva') await expect(run).rejects.toThrow(`${first.pointId}.xva`);
        else await run;
      });
      expect(existsSync(bait)).toBe(true);
    }
  });

  it('incremental point: a VHD that is a link, or a disk folder that is a link, is refused; the target is kept', async () => {
    for (const linked of ['vhd', 'folder'] as const) {
      const { remote, outside } = layout();
      const [, newest] = await twoDeltaPoints(remote, 30);
      const vhd = newest!.vhd;
      let named: string;
      if (linked === 'vhd') {
        const bait = path.join(outside, path.basename(vhd));
        renameSync(vhd, bait);
        symlinkSync(bait, vhd);
        named = path.basename(vhd);
      } else {
        const folder = path.dirname(vhd);
        const bait = path.join(outside, 'disk-folder');
        cpSync(folder, bait, { recursive: true });
        rmSync(folder, { recursive: true });
        symlinkSync(bait, folder);
        named = path.basename(folder);
      }
      await expectEveryUseRefused(pointById((await points(remote)).points, newest!.id), named);
      await expectHousekeepingConfined(remote, outside, () => nextDeltaWithRetention(remote, 40));
    }
  });

  it('incremental point: a VHD parent named by ../ or by absolute path is looked up in its own folder only', async () => {
    for (const style of ['relative', 'absolute'] as const) {
      const { remote, outside } = layout();
      const [oldest, newest] = await twoDeltaPoints(remote, 50);
      const child = newest!.vhd;
      const parent = oldest!.vhd;
      // The parent moves out, and the child's header names it there: following the name would find it.
      const bait = path.join(outside, `moved-${path.basename(parent)}`);
      renameSync(parent, bait);
      setParentName(child, style === 'relative' ? path.relative(path.dirname(child), bait) : bait);

      await expectEveryUseRefused(pointById((await points(remote)).points, newest!.id), path.basename(bait));
      await expectHousekeepingConfined(remote, outside, () => nextDeltaWithRetention(remote, 60));
    }
  });

  it('a VM folder that is a link out of the repository is neither listed nor cleaned', async () => {
    const { remote, outside } = layout();
    const vmUuid = sim.control.vmUuidByName('web');
    await runFullBackup(xapi, await vmRef('web'), options(remote));
    await runFullBackup(xapi, await vmRef('web'), options(remote));
    const dir = path.join(remote, 'xo-vm-backups', vmUuid);
    const bait = path.join(outside, 'vm-folder');
    cpSync(dir, bait, { recursive: true });
    // A stray XVA in the bait: inside a real VM folder, check --repair would call it an orphan.
    copyFileSync(
      path.join(
        bait,
        readdirSync(bait).find((f) => f.endsWith('.xva'))!,
      ),
      path.join(bait, 'stray.xva'),
    );
    const fake = '00000000-1111-2222-3333-444444444444';
    symlinkSync(bait, path.join(remote, 'xo-vm-backups', fake));
    expect((await points(remote)).points.filter((p) => p.vmUuid === fake)).toEqual([]);
    await expectHousekeepingConfined(remote, outside, async () =>
      runFullBackup(xapi, await vmRef('web'), options(remote, { retention: { keep: 1 } })),
    );
  });
});

/** Rewrites a differencing VHD's parent name (header only, checksum recomputed), as a hostile writer would. */
function setParentName(file: string, parentName: string) {
  const fd = openSync(file, 'r+');
  try {
    const footerBuf = Buffer.alloc(512);
    readSync(fd, footerBuf, 0, 512, 0);
    const footer = decodeFooter(footerBuf, { offset: 0, source: file });
    const headerBuf = Buffer.alloc(HEADER_SIZE);
    readSync(fd, headerBuf, 0, HEADER_SIZE, footer.dataOffset);
    const h = decodeHeader(headerBuf, { offset: footer.dataOffset, source: file });
    const encoded = encodeHeader({ ...h, parentName });
    writeSync(fd, encoded, 0, HEADER_SIZE, footer.dataOffset);
  } finally {
    closeSync(fd);
  }
}
