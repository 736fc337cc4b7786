import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { fullPointDisks } from '../../src-main/repository/full-point-reader.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import type { RestoreOptions } from '../../src-main/restore/restore-options.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { hostObjects, testRestoreOptions, vmRefByUuid, vmShape } from '../helpers/restore.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// The proof of issue 6: every kind of point (full XVA, full VHD of a chain, differencing VHDs further down
// the chain) restores to a new VM whose disks are byte-identical to the source disks at the time of that
// point (read through the simulator's raw export), and whose record matches.

let sim: SimHandle;
let xapi: XapiSession;
const { temp, cleanupAll } = tempDirs();
let remote: string;
let sourceRef: string;
let sourceUuid: string;
/** Point id → SHA-256 of each source disk (by position) when the point was taken. */
const truth = new Map<string, Record<string, string>>();
let points: BackupPoint[];

async function diskHashesByPosition(vmName: string): Promise<Record<string, string>> {
  const shape = await vmShape(sim, vmRefByUuid(sim, sim.control.vmUuidByName(vmName)));
  return Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]));
}

beforeAll(async () => {
  sim = await startSimulator({
    vms: [
      {
        name: 'app',
        powerState: 'Running',
        memoryMiB: 768,
        vcpus: 3,
        networks: ['Pool-wide network associated with eth0', 'Pool-wide network associated with eth1'],
        disks: [
          { name: 'app system', size: 24 * MiB, allocated: 8 * MiB },
          { name: 'app data', size: 12 * MiB + 512 * 1024, allocated: 4 * MiB, sr: 'Local storage' },
        ],
      },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
  remote = temp();
  sourceUuid = sim.control.vmUuidByName('app');
  sourceRef = (await resolveVms(xapi, ['app'])).selected[0]!.ref;
  const backup = (mode: 'full' | 'delta') =>
    (mode === 'full' ? runFullBackup : runDeltaBackup)(
      xapi,
      sourceRef,
      testBackupOptions(remote, temp(), { jobId: 'job-restore' }),
    );

  const full = await backup('full');
  truth.set(full.pointId, await diskHashesByPosition('app'));
  sim.control.guestWrite(sourceUuid, 0.05, 11);
  for (let i = 0; i < 3; i++) {
    const d = await backup('delta');
    truth.set(d.pointId, await diskHashesByPosition('app'));
    sim.control.guestWrite(sourceUuid, 0.05, 20 + i);
  }
  points = (await listBackupPoints(remote)).points;
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

describe('restore', () => {
  it('restores every kind of point byte-identical, with the VM record (name, memory, VCPUs, disk positions, networks)', async () => {
    expect(points.map((p) => p.mode)).toEqual(['full', 'delta', 'delta', 'delta']);
    const source = await vmShape(sim, sourceRef);
    for (const point of points) {
      const before = hostObjects(sim);
      const opts = testRestoreOptions(temp(), { points });
      const r = await restorePoint(xapi, point, opts);
      // Never the original's own name, which the pool still holds: the point's date tells the copy apart.
      const when = point.timestamp.toISOString();
      expect(r.name).toBe(`app (${when.slice(0, 10)} ${when.slice(11, 16)} UTC)`);
      const restoredRef = vmRefByUuid(sim, r.vmUuid);
      expect(restoredRef).toBe(r.vmRef);
      const restored = sim.control.records('VM')[restoredRef]!;
      expect(restored.name_label).toBe(r.name);
      expect(restored.tags).toContain('restored from backup');
      expect(restored.power_state).toBe('Halted');
      expect(restored.is_a_template).toBe(false);
      const shape = await vmShape(sim, restoredRef);
      expect(shape.memory).toEqual(source.memory);
      expect(shape.vcpus).toEqual(source.vcpus);
      expect(shape.networks).toEqual(source.networks);
      expect(shape.disks.map((d) => [d.position, d.size, d.bootable, d.mode])).toEqual(
        source.disks.map((d) => [d.position, d.size, d.bootable, d.mode]),
      );
      // Byte-identical to the source disks at the time of the point (and not to the disks as they are now).
      expect(Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]))).toEqual(truth.get(point.id));
      // Everything on the pool's default SR (NFS storage) when no SR is chosen.
      expect(shape.disks.map((d) => d.sr)).toEqual(['NFS storage', 'NFS storage']);
      expect(opts.progress.some((p) => p.phase === 'transfer' && p.totalBytes !== null && p.totalBytes > 0)).toBe(true);
      expect(opts.progress.at(-1)?.phase).toBe('done');
      expect(hostObjects(sim).vms).toBe(before.vms + 1);
      expect(hostObjects(sim).tasks).toBe(0);
    }
    const live = Object.fromEntries((await vmShape(sim, sourceRef)).disks.map((d) => [d.position, d.sha256]));
    for (const hashes of truth.values()) expect(hashes).not.toEqual(live);
  });

  it('restores under a new name, onto a chosen SR (per disk for an incremental point), and starts the VM', async () => {
    const srs = sim.control.records('SR');
    const uuidOf = (name: string) => String(Object.values(srs).find((s) => s.name_label === name)!.uuid);
    const delta = points.at(-1)!;
    const r = await restorePoint(
      xapi,
      delta,
      testRestoreOptions(temp(), {
        name: 'app (restored)',
        srUuid: uuidOf('Local storage'),
        diskSrs: { '1': uuidOf('NFS storage') },
        start: true,
      }),
    );
    expect(r.started).toBe(true);
    const ref = vmRefByUuid(sim, r.vmUuid);
    expect(sim.control.records('VM')[ref]!.name_label).toBe('app (restored)');
    expect(sim.control.records('VM')[ref]!.power_state).toBe('Running');
    const shape = await vmShape(sim, ref);
    expect(shape.disks.map((d) => [d.position, d.sr])).toEqual([
      ['0', 'Local storage'],
      ['1', 'NFS storage'],
    ]);
    expect(Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]))).toEqual(truth.get(delta.id));

    const full = points[0]!;
    const f = await restorePoint(
      xapi,
      full,
      testRestoreOptions(temp(), { name: 'app (from full)', srUuid: uuidOf('Local storage') }),
    );
    const fshape = await vmShape(sim, vmRefByUuid(sim, f.vmUuid));
    expect(fshape.disks.map((d) => d.sr)).toEqual(['Local storage', 'Local storage']);
    expect(f.disks.map((d) => d.position)).toEqual(['0', '1']);
  });

  it('restores a full point with its disks on different SRs: the XVA imported onto one, the others copied onto theirs', async () => {
    const srs = sim.control.records('SR');
    const uuidOf = (name: string) => String(Object.values(srs).find((s) => s.name_label === name)!.uuid);
    const full = points[0]!;
    const source = await vmShape(sim, sourceRef);
    const xvaDisks = (await fullPointDisks(full)).disks;
    // By position, with --sr: a tie, so the XVA goes onto the chosen SR and disk 1 moves. By the disk's uuid as
    // the XVA records it, without --sr: disk 0 moves off the pool's default SR (NFS storage). Both disks asked
    // onto one SR that is not --sr's: the XVA goes there, nothing moves.
    const cases: Array<{ opts: Partial<RestoreOptions>; want: string[][]; moved: string[] }> = [
      {
        opts: { srUuid: uuidOf('Local storage'), diskSrs: { '1': uuidOf('NFS storage') } },
        want: [
          ['0', 'Local storage'],
          ['1', 'NFS storage'],
        ],
        moved: ['1'],
      },
      {
        opts: { diskSrs: { [xvaDisks[0]!.uuid.toUpperCase()]: uuidOf('Local storage') } },
        want: [
          ['0', 'Local storage'],
          ['1', 'NFS storage'],
        ],
        moved: ['0'],
      },
      {
        opts: {
          srUuid: uuidOf('NFS storage'),
          diskSrs: { '0': uuidOf('Local storage'), '1': uuidOf('Local storage') },
        },
        want: [
          ['0', 'Local storage'],
          ['1', 'Local storage'],
        ],
        moved: [],
      },
    ];
    for (const { opts: extra, want, moved } of cases) {
      const before = hostObjects(sim);
      const opts = testRestoreOptions(temp(), { points, name: 'app (split)', ...extra });
      const r = await restorePoint(xapi, full, opts);
      const ref = vmRefByUuid(sim, r.vmUuid);
      const shape = await vmShape(sim, ref);
      expect(shape.disks.map((d) => [d.position, d.sr])).toEqual(want);
      expect(r.disks.map((d) => [d.position, d.srUuid])).toEqual(want.map(([p, sr]) => [p, uuidOf(sr!)]));
      // Byte-identical to the source at the time of the point, at the same positions, with the same VBD fields.
      expect(Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]))).toEqual(truth.get(full.id));
      expect(shape.disks.map((d) => [d.position, d.size, d.bootable, d.mode])).toEqual(
        source.disks.map((d) => [d.position, d.size, d.bootable, d.mode]),
      );
      expect(shape.memory).toEqual(source.memory);
      expect(shape.vcpus).toEqual(source.vcpus);
      expect(shape.networks).toEqual(source.networks);
      expect(sim.control.records('VM')[ref]).toMatchObject({
        name_label: 'app (split)',
        power_state: 'Halted',
        is_a_template: false,
      });
      // The imported originals of moved disks are gone: one VM and its two disks more, nothing else.
      expect(hostObjects(sim)).toMatchObject({
        vms: before.vms + 1,
        vdis: before.vdis + 2,
        vbds: before.vbds + 2,
        tasks: 0,
      });
      const vdiNames = Object.values(sim.control.records('VDI'))
        .filter((v) => r.disks.some((d) => d.vdiUuid === v.uuid))
        .map((v) => v.name_label);
      expect(vdiNames.sort()).toEqual(['app data', 'app system']);
      expect(opts.logs.flatMap((l) => /Moving disk (\d+)/.exec(l)?.[1] ?? [])).toEqual(moved);
      if (moved.length) expect(opts.progress.map((p) => p.phase)).toContain('commit');
      expect(opts.progress.at(-1)?.phase).toBe('done');
    }
  });

  it("a full point's disk moving onto its SR shows its own progress: bytes rising with the host's copy task, then done", async () => {
    const srs = sim.control.records('SR');
    const uuidOf = (name: string) => String(Object.values(srs).find((s) => s.name_label === name)!.uuid);
    const full = points[0]!;
    // The SR copies at 8 MiB/s: disk 1 (12.5 MiB) takes several of the restore's task polls.
    const fault = sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 8 * MiB, on: 'vdi_copy', times: 1 });
    try {
      const opts = testRestoreOptions(temp(), {
        points,
        name: 'app (moved)',
        srUuid: uuidOf('Local storage'),
        diskSrs: { '1': uuidOf('NFS storage') },
      });
      await restorePoint(xapi, full, opts);
      const moved = opts.progress.filter((p) => p.disk?.name === 'app data');
      const size = 12 * MiB + 512 * 1024;
      expect(moved.every((p) => p.totalBytes === size && p.vm.name === 'app (moved)')).toBe(true);
      const during = moved.filter((p) => p.phase === 'transfer').map((p) => p.bytesWritten);
      // Never backwards, and seen part-way at least twice before the end.
      expect(during).toEqual([...during].sort((a, b) => a - b));
      expect(new Set(during.filter((b) => b > 0 && b < size)).size).toBeGreaterThanOrEqual(2);
      expect(moved.at(-1)).toMatchObject({ phase: 'done', bytesWritten: size });
      // The VM's own line is in the commit phase meanwhile, and ends done.
      expect(opts.progress.filter((p) => p.disk === null).at(-1)?.phase).toBe('done');
    } finally {
      sim.control.removeFault(fault);
    }
  });

  it('a zstd full point takes per-disk SRs by position (its disk list is read from the imported VM), not by uuid', async () => {
    const srs = sim.control.records('SR');
    const uuidOf = (name: string) => String(Object.values(srs).find((s) => s.name_label === name)!.uuid);
    const zremote = temp();
    const hashes = await diskHashesByPosition('app');
    await runFullBackup(
      xapi,
      sourceRef,
      testBackupOptions(zremote, temp(), { jobId: 'job-zstd', compression: 'zstd' }),
    );
    const [point] = (await listBackupPoints(zremote)).points;
    const before = hostObjects(sim);
    const byUuid = await restorePoint(
      xapi,
      point!,
      testRestoreOptions(temp(), { diskSrs: { [liveDisks(sim, 'app')[0]!.uuid]: uuidOf('Local storage') } }),
    ).catch((e: unknown) => e as SluiceError);
    expect(byUuid).toMatchObject({
      code: 'VALIDATION',
      message: expect.stringMatching(/zstd-compressed XVA: .* named by position/),
    });
    const badPosition = await restorePoint(
      xapi,
      point!,
      testRestoreOptions(temp(), { diskSrs: { '5': uuidOf('Local storage') } }),
    ).catch((e: unknown) => e as SluiceError);
    expect(badPosition).toMatchObject({
      code: 'NOT_FOUND',
      message: 'The restored VM has no disk at position 5.',
      hint: 'Its disks are at positions 0, 1.',
    });
    expect(hostObjects(sim)).toEqual(before);

    const r = await restorePoint(
      xapi,
      point!,
      testRestoreOptions(temp(), { srUuid: uuidOf('NFS storage'), diskSrs: { '1': uuidOf('Local storage') } }),
    );
    const shape = await vmShape(sim, vmRefByUuid(sim, r.vmUuid));
    expect(shape.disks.map((d) => [d.position, d.sr])).toEqual([
      ['0', 'NFS storage'],
      ['1', 'Local storage'],
    ]);
    expect(Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]))).toEqual(hashes);
  });

  it('refuses a per-disk SR for a disk or an SR the point or the pool does not have, before creating anything', async () => {
    const full = points[0]!;
    const local = String(Object.values(sim.control.records('SR')).find((s) => s.name_label === 'Local storage')!.uuid);
    for (const point of [full, points.at(-1)!]) {
      const before = hostObjects(sim);
      const unknownDisk = await restorePoint(
        xapi,
        point,
        testRestoreOptions(temp(), { diskSrs: { '7': local } }),
      ).catch((e: unknown) => e as SluiceError);
      expect(unknownDisk).toBeInstanceOf(SluiceError);
      expect(unknownDisk).toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringMatching(/has no disk "7"/),
        hint: expect.stringMatching(/0 \(.*\), 1 \(/),
      });
      const unknownSr = await restorePoint(
        xapi,
        point,
        testRestoreOptions(temp(), { diskSrs: { '1': '00000000-0000-4000-8000-000000000000' } }),
      ).catch((e: unknown) => e as SluiceError);
      expect(unknownSr).toMatchObject({
        code: 'NOT_FOUND',
        message: 'The pool has no SR with uuid 00000000-0000-4000-8000-000000000000 (asked for disk 1).',
      });
      expect(hostObjects(sim)).toEqual(before);
    }
  });

  it('restore reports progress for every disk of an incremental point and a known total', async () => {
    const opts = testRestoreOptions(temp());
    const r = await restorePoint(xapi, points[2]!, opts);
    expect(r.disks).toHaveLength(2);
    const transfer = opts.progress.filter((p) => p.phase === 'transfer');
    expect(transfer.length).toBeGreaterThan(0);
    expect(Math.max(...opts.progress.map((p) => p.bytesWritten))).toBeGreaterThan(0);
    expect(liveDisks(sim, 'app')).toHaveLength(2);
  });
});
