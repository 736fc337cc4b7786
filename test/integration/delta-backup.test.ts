import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { startSimulator } from '../../src-sim/index.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { chainDigest } from '../helpers/vhd-chains.js';

const env = withSimulator();
const { temp } = env;

function options(remoteRoot: string, logs: string[]): BackupRunOptions {
  return testBackupOptions(remoteRoot, temp(), {
    jobId: 'job-delta',
    retry: undefined,
    log: (level, m) => logs.push(`${level}: ${m}`),
  });
}

function baseSnapshots(): number {
  return Object.values(env.sim.control.records('VM')).filter(
    (v) => v.is_a_snapshot === true && (v.other_config as Record<string, string>)['sluice:delta-base'],
  ).length;
}

describe('incremental (delta) backups', () => {
  it('writes full VHDs first, then differencing VHDs of only the changed blocks; each chain reads back as the disk was', async () => {
    const remote = temp();
    const logs: string[] = [];
    const vmRef = (await resolveVms(env.xapi, ['web01'])).selected[0]!.ref;
    const vmUuid = env.sim.control.vmUuidByName('web01');

    const first = await runDeltaBackup(env.xapi, vmRef, options(remote, logs));
    expect(first.disks.map((d) => d.differencing)).toEqual([false, false]);
    for (const disk of liveDisks(env.sim, 'web01')) {
      const f = first.disks.find((d) => d.vdiUuid === disk.uuid)!;
      expect(f.path).toBe(
        path.join(remote, 'xo-vm-backups', vmUuid, 'vdis', 'job-delta', disk.uuid, `${first.pointId}.vhd`),
      );
      expect(await chainDigest([f.path])).toBe(await env.sim.control.hashVdi(disk.uuid));
    }
    expect(baseSnapshots()).toBe(1);

    env.sim.control.guestWrite(vmUuid, 0.02, 7);
    const second = await runDeltaBackup(env.xapi, vmRef, options(remote, logs));
    expect(second.disks.map((d) => d.differencing)).toEqual([true, true]);
    expect(second.bytes).toBeLessThan(first.bytes / 2);
    for (const disk of liveDisks(env.sim, 'web01')) {
      const chain = [first, second].map((p) => p.disks.find((d) => d.vdiUuid === disk.uuid)!.path);
      expect(await chainDigest(chain)).toBe(await env.sim.control.hashVdi(disk.uuid));
    }
    expect(baseSnapshots()).toBe(1);

    const { points } = await listBackupPoints(remote);
    expect(points.map((p) => p.mode)).toEqual(['delta', 'delta']);
    const meta = points[1]!.metadata;
    expect(meta.mode === 'delta' && Object.values(meta.isVhdDifferencing)).toEqual([true, true]);
    expect(
      meta.mode === 'delta' &&
        Object.values(meta.vdis).map((v) => (v.other_config as Record<string, string>)['xo:base_delta_vdi']),
    ).toHaveLength(2);

    // The base snapshot deleted on the host: the next point is full again, and the log says why.
    const base = Object.entries(env.sim.control.records('VM')).find(([, v]) => v.is_a_snapshot === true)![0];
    await env.xapi.call('VM.destroy', base);
    const third = await runDeltaBackup(env.xapi, vmRef, options(remote, logs));
    expect(third.disks.map((d) => d.differencing)).toEqual([false, false]);
    expect(logs.join('\n')).toMatch(
      /No usable base for disk .*the base snapshot is gone from the host.*making a full VHD/,
    );
    for (const d of third.disks) expect(existsSync(d.path)).toBe(true);
  });
});

describe('incremental backups: skipped disks and a host that gives up', () => {
  it('skips [NOBAK] disks, and retries a disk whose export the host cut', async () => {
    const own = await startSimulator({
      vms: [
        {
          name: 'files',
          powerState: 'Halted',
          disks: [
            { name: 'files system', size: 8 * MiB, allocated: 4 * MiB },
            { name: 'scratch [NOBAK]', size: 8 * MiB, allocated: 4 * MiB },
          ],
        },
      ],
      loginFailureDelayMs: 50,
    });
    const session = await connect(own);
    try {
      own.control.addFault('drop-after=1M,times=1,on=export_raw_vdi');
      const logs: string[] = [];
      const vmRef = (await resolveVms(session, ['files'])).selected[0]!.ref;
      const r = await runDeltaBackup(session, vmRef, {
        ...options(temp(), logs),
        retry: { attempts: 3, backoffMs: () => 10 },
      });
      expect(r.disks.map((d) => d.name)).toEqual(['files system']);
      expect(logs.join('\n')).toMatch(/Skipping disk "scratch \[NOBAK\]": its name contains \[NOBAK\]/);
      expect(logs.join('\n')).toMatch(/Attempt 1 of the export of disk "files system" failed: The host gave up/);
      const vdi = Object.values(own.control.records('VDI')).find(
        (v) => v.name_label === 'files system' && v.is_a_snapshot !== true,
      )!;
      expect(await chainDigest([r.disks[0]!.path])).toBe(await own.control.hashVdi(String(vdi.uuid)));
    } finally {
      await session.close();
      await own.stop();
    }
  });
});
