import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { exportPoint, type ExportFormat } from '../../src-main/export/export-point.js';
import { XvaStreamVerifier } from '../../src-main/formats/xva/xva-stream-verifier.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { runCli } from '../helpers/cli.js';
import { vmRefByUuid, vmShape } from '../helpers/restore.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { qemuVhdToRaw } from '../helpers/vhd-fixtures.js';
import { hashDisksInXva } from '../helpers/xva-content.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';

const env = withSimulator({
  vms: [haltedVm('app', { system: [24 * MiB, 8 * MiB], data: [12 * MiB + 512 * 1024, 4 * MiB] })],
});
const { temp } = env;
let remote: string;
let points: BackupPoint[];
const truth = new Map<string, Record<string, string>>();

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** qemu-img's reading of a VHD (it does not follow parents: the file must stand alone), as raw, hashed. */
async function qemuVhdToRawHash(vhd: string): Promise<string> {
  return sha256(qemuVhdToRaw(vhd, path.join(temp(), 'out.raw')));
}

function exportOpts(format: ExportFormat, out: string, disk?: string) {
  return { format, out, disk, runId: 'export-test', log: () => {}, onProgress: () => {} };
}

beforeAll(async () => {
  remote = temp();
  const uuid = env.sim.control.vmUuidByName('app');
  const ref = await env.vmRef('app');
  const record = async (id: string) =>
    truth.set(
      id,
      Object.fromEntries((await vmShape(env.sim, vmRefByUuid(env.sim, uuid))).disks.map((d) => [d.position, d.sha256])),
    );
  await record((await runFullBackup(env.xapi, ref, testBackupOptions(remote, temp()))).pointId);
  env.sim.control.guestWrite(uuid, 0.05, 3);
  for (let i = 0; i < 2; i++) {
    await record(
      (await runDeltaBackup(env.xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-export' }))).pointId,
    );
    env.sim.control.guestWrite(uuid, 0.05, 30 + i);
  }
  points = (await listBackupPoints(remote)).points;
});

describe('export', () => {
  it('an incremental point to one VHD per disk (chain flattened): qemu-img reads each as the disk at the time of the point', async () => {
    const point = points.at(-1)!;
    expect(point.mode).toBe('delta');
    const out = path.join(temp(), 'vhds');
    const r = await exportPoint(point, exportOpts('vhd', out));
    expect(r.files.map((f) => f.position)).toEqual(['0', '1']);
    for (const f of r.files) {
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'vpc', f.path]).toString()) as {
        format: string;
      };
      expect(info.format).toBe('vpc');
      expect(await qemuVhdToRawHash(f.path)).toBe(truth.get(point.id)![f.position!]);
    }
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it("an incremental point to raw images and to an XVA (read back by the host's import reader, our verifier and tar)", async () => {
    const point = points[1]!;
    const raw = path.join(temp(), 'disk0.raw');
    await exportPoint(point, exportOpts('raw', raw, '0'));
    expect((await fs.stat(raw)).size).toBe(24 * MiB);
    expect(await sha256(raw)).toBe(truth.get(point.id)!['0']);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', raw]).toString()) as {
      format: string;
      'virtual-size': number;
    };
    expect(info).toMatchObject({ format: 'raw', 'virtual-size': 24 * MiB });

    const xva = path.join(temp(), 'app.xva');
    await exportPoint(point, exportOpts('xva', xva));
    expect(await hashDisksInXva(xva, temp())).toEqual(Object.values(truth.get(point.id)!).sort());
    const verifier = await XvaStreamVerifier.create();
    for await (const c of createReadStream(xva)) verifier.update(c as Buffer);
    const summary = verifier.finish();
    expect(summary.disks).toHaveLength(2);
    expect(summary.ovaXml).toContain('<name>name_label</name><value>app</value>');
    const listing = execFileSync('tar', ['-tf', xva]).toString().trim().split('\n');
    expect(listing[0]).toBe('ova.xml');
    expect(listing.some((n) => /^Ref:\d+\/00000000\.xxhash$/.test(n))).toBe(true);
  });

  it('a full point: the XVA copied and checked, its disks as VHD and raw', async () => {
    const point = points[0]!;
    expect(point.mode).toBe('full');
    const xva = path.join(temp(), 'full.xva');
    await exportPoint(point, exportOpts('xva', xva));
    expect(await sha256(xva)).toBe(await sha256(path.join(path.dirname(point.metadataPath), `${point.id}.xva`)));
    const vhd = path.join(temp(), 'data.vhd');
    await exportPoint(point, exportOpts('vhd', vhd, '1'));
    expect(await qemuVhdToRawHash(vhd)).toBe(truth.get(point.id)!['1']);
    const raws = path.join(temp(), 'raws');
    const r = await exportPoint(point, exportOpts('raw', raws));
    for (const f of r.files) expect(await sha256(f.path)).toBe(truth.get(point.id)![f.position!]);
  });

  it('a damaged point is refused, naming the damage, and leaves no output', async () => {
    const copy = temp();
    execFileSync('cp', ['-a', `${remote}/.`, copy]);
    const point = (await listBackupPoints(copy)).points[0]!;
    const xvaFile = path.join(path.dirname(point.metadataPath), `${point.id}.xva`);
    const h = await fs.open(xvaFile, 'r+');
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, 1024 * 1024);
    b[0] = b[0]! ^ 1;
    await h.write(b, 0, 1, 1024 * 1024);
    await h.close();
    const outDir = temp();
    for (const format of ['xva', 'raw'] as const) {
      const out = path.join(outDir, `x.${format}`);
      const err = await exportPoint(point, exportOpts(format, out, format === 'raw' ? '0' : undefined)).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).message).toMatch(/damaged: .*checksum/);
      expect(existsSync(out)).toBe(false);
    }
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('several disks are all or nothing: a cancel during the second disk leaves no file, not even the finished first', async () => {
    const point = points.at(-1)!;
    for (const format of ['vhd', 'raw'] as const) {
      const existing = temp();
      // A folder of disk files that is not there yet: made by the export (its parent must exist), removed on failure.
      const fresh = path.join(temp(), 'disks');
      for (const out of [existing, fresh]) {
        const controller = new AbortController();
        const seen: Array<{ disk: string | undefined; phase: string; bytesWritten: number }> = [];
        const err = await exportPoint(point, {
          ...exportOpts(format, out),
          signal: controller.signal,
          onProgress: (p) => {
            seen.push({ disk: p.disk?.name, phase: p.phase, bytesWritten: p.bytesWritten });
            // The second disk's file is open; the first is complete under its temp name.
            if (p.disk?.name === 'app data') controller.abort(new SluiceError('CANCELLED', 'Cancelled by the test.'));
          },
        }).catch((e: unknown) => e);
        expect((err as SluiceError).code).toBe('CANCELLED');
        // The first disk was written completely before the cancel; the second's line and the VM's end cancelled.
        const first = seen.filter((s) => s.disk === 'app system');
        expect(first.at(-1)).toMatchObject({ phase: 'done' });
        expect(first.at(-1)!.bytesWritten).toBeGreaterThan(0);
        expect(seen.filter((s) => s.disk === 'app data').at(-1)).toMatchObject({ phase: 'cancelled' });
        expect(seen.at(-1)).toMatchObject({ disk: undefined, phase: 'cancelled' });
        if (out === existing) expect(readdirSync(existing)).toEqual([]);
        else expect(existsSync(fresh)).toBe(false);
      }
    }
  });

  it('an existing file is never replaced: the export is refused before anything is written', async () => {
    const point = points.at(-1)!;
    const dir = temp();
    const taken = path.join(dir, `app-${point.id}-disk1.raw`);
    await fs.writeFile(taken, 'keep me');
    const err = (await exportPoint(point, exportOpts('raw', dir)).catch((e: unknown) => e)) as SluiceError;
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toContain(taken);
    expect(err.hint).toMatch(/Nothing was written/);
    expect(readdirSync(dir)).toEqual([path.basename(taken)]);
    expect(await fs.readFile(taken, 'utf8')).toBe('keep me');
    // One file (an XVA, or one disk) the same way.
    for (const [format, disk] of [
      ['xva', undefined],
      ['vhd', '0'],
    ] as const) {
      const file = path.join(dir, `one.${format}`);
      await fs.writeFile(file, 'keep me too');
      const e = (await exportPoint(point, exportOpts(format, file, disk)).catch((x: unknown) => x)) as SluiceError;
      expect(e.code).toBe('CONFLICT');
      expect(await fs.readFile(file, 'utf8')).toBe('keep me too');
    }
    expect(readdirSync(dir).sort()).toEqual([path.basename(taken), 'one.vhd', 'one.xva'].sort());
  });

  it('sluice export refuses a missing destination folder, creating nothing; the folder --out names for several disks is made and said', async () => {
    const dir = temp();
    const out = path.join(dir, 'usb-not-mounted', 'exports', 'app.xva');
    const refused = await runCli(['export', '--remote', remote, '--vm', 'app', '--format', 'xva', '--out', out]);
    expect(refused.stderr).toContain(`The folder ${path.dirname(out)} does not exist.`);
    expect(refused.stderr).toMatch(
      /hint: Sluice does not create it, so that an unmounted drive .* Nothing was written\./,
    );
    expect(refused.code).toBe(1);
    expect(readdirSync(dir)).toEqual([]);

    const disks = path.join(dir, 'app-disks');
    const made = await runCli(['export', '--remote', remote, '--vm', 'app', '--format', 'raw', '--out', disks]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain(`Created the folder ${disks} for the 2 disk files.`);
    expect(readdirSync(disks)).toHaveLength(2);
    // Only --out itself is made: a folder of disk files inside a missing folder is refused as well.
    const deeper = await runCli([
      'export',
      '--remote',
      remote,
      '--vm',
      'app',
      '--format',
      'raw',
      '--out',
      path.join(dir, 'gone', 'disks'),
    ]);
    expect(deeper.stderr).toContain(`The folder ${path.join(dir, 'gone')} does not exist.`);
    expect(deeper.code).toBe(1);
    expect(existsSync(path.join(dir, 'gone'))).toBe(false);
  });

  it('sluice export writes the file and reports it (--json)', async () => {
    const out = path.join(temp(), 'cli.vhd');
    const r = await runCli([
      'export',
      '--remote',
      remote,
      '--vm',
      'app',
      '--at',
      'latest',
      '--format',
      'vhd',
      '--disk',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.at(-1)).toMatchObject({ type: 'result', format: 'vhd', files: [{ path: out, position: '1' }] });
    expect(await qemuVhdToRawHash(out)).toBe(truth.get(points.at(-1)!.id)!['1']);
    const bad = await runCli(['export', '--remote', remote, '--vm', 'app', '--format', 'zip', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format takes xva, vhd or raw');
  });
});
