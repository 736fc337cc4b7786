import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { buildDashboard } from '../../src-main/jobs/dashboard.js';
import { RunHistory } from '../../src-main/jobs/run-history.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { defaultSettings } from '../../src-main/settings/settings-schema.js';
import { liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { chainDigest, digestsOf, hasQemu, pointChain, qemuDigest } from '../helpers/vhd-chains.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';

const env = withSimulator({
  vms: [
    haltedVm('app', { system: [40 * MiB, 10 * MiB], data: [20 * MiB + 512 * 1024, 4 * MiB] }),
    haltedVm('web', { system: [16 * MiB, 4 * MiB] }),
  ],
});
const { temp, vmRef } = env;

function options(remoteRoot: string, extra: Partial<BackupRunOptions> = {}) {
  return testBackupOptions(remoteRoot, temp(), { jobId: 'job-ret', ...extra });
}

describe('retention of incremental backups', () => {
  it('keeps the N newest points; a deleted point merges into the next, which restores to the disk as it was backed up', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('app');
    const disks = liveDisks(env.sim, 'app');
    const truth = new Map<string, Record<string, string>>(); // point id → disk uuid → sha256 at backup time
    const runs: Array<ReturnType<typeof options>> = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) env.sim.control.guestWrite(vmUuid, 0.1, 100 + i);
      const opts = options(remote, { retention: { keep: 2 } });
      runs.push(opts);
      const r = await runDeltaBackup(env.xapi, await vmRef('app'), opts);
      truth.set(
        r.pointId,
        Object.fromEntries(
          await Promise.all(disks.map(async (d) => [d.uuid, await env.sim.control.hashVdi(d.uuid)] as const)),
        ),
      );
      const { points } = await listBackupPoints(remote);
      expect(points.length).toBe(Math.min(i + 1, 2));
      if (i >= 2) {
        expect(r.retention!.deleted.map((d) => d.mode)).toEqual(['delta']);
        expect(r.retention!.deleted[0]!.collapse!.merged).toHaveLength(2); // one merge per disk
      }
    }
    const { points } = await listBackupPoints(remote);
    expect(points.map((p) => p.id)).toEqual([...truth.keys()].slice(-2));
    for (const p of points) {
      for (const d of disks) expect(await chainDigest(await pointChain(p, d.uuid))).toBe(truth.get(p.id)![d.uuid]);
    }
    // The oldest kept point is now a full VHD (the merged chain under the point's own name): qemu agrees.
    for (const d of disks) {
      const chain = await pointChain(points[0]!, d.uuid);
      expect(chain).toEqual([
        path.join(remote, 'xo-vm-backups', vmUuid, 'vdis', 'job-ret', d.uuid, `${points[0]!.id}.vhd`),
      ]);
      if (hasQemu) expect(await qemuDigest(chain[0]!, temp())).toBe(truth.get(points[0]!.id)![d.uuid]);
      // Nothing else is left in the disk's folder: no old VHD, no merge state, no temp file; block digests beside
      // every VHD, the merged one included (the merge carries the parent's over and adds those of what it wrote).
      expect(readdirSync(path.dirname(chain[0]!)).sort()).toEqual(
        points.flatMap((p) => [`${p.id}.vhd`, `${p.id}.vhd.checksum.json`]).sort(),
      );
      expect((await digestsOf(chain[0]!)).kind).toBe('current');
    }
    // The merge is a visible phase, with bytes, and the run is done only after it.
    const last = runs.at(-1)!.progress;
    const merging = last.filter((p) => p.phase === 'merge');
    expect(merging.length).toBeGreaterThan(0);
    expect(Math.max(...merging.map((p) => p.bytesWritten))).toBeGreaterThan(0);
    expect(last.at(-1)!.phase).toBe('done');
    expect(last.findIndex((p) => p.phase === 'merge')).toBeGreaterThan(last.findIndex((p) => p.phase === 'transfer'));
    expect(runs.at(-1)!.logs.join('\n')).toMatch(/Retention: deleting point .* merged into the next point/);

    // The Dashboard's space used is what the points hold now (the merged base holds the whole disk), not what
    // each point's metadata recorded when it was written.
    const onDisk = points
      .flatMap((p) =>
        disks.map((d) => path.join(remote, 'xo-vm-backups', vmUuid, 'vdis', 'job-ret', d.uuid, `${p.id}.vhd`)),
      )
      .reduce((n, f) => n + statSync(f).size, 0);
    expect(points.reduce((n, p) => n + (p.size ?? 0), 0)).toBeLessThan(onDisk);
    const dashboard = await buildDashboard({
      settings: { ...defaultSettings(), remotes: [{ id: 'r1', name: 'nas', kind: 'folder', path: remote }] },
      history: new RunHistory(temp()),
      nextRuns: () => [],
      inventory: () => Promise.resolve(null),
      now: new Date(),
    });
    expect(dashboard.remotes[0]).toMatchObject({ points: 2, usedBytes: onDisk });
  });

  it('starts a new chain every K points (full interval) and records long-term buckets in the tags', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('web');
    const kinds: boolean[][] = [];
    const logs: string[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) env.sim.control.guestWrite(vmUuid, 0.05, 200 + i);
      const opts = options(remote, { fullInterval: 2, retention: { keep: 10, longTerm: { daily: 3 } } });
      const r = await runDeltaBackup(env.xapi, await vmRef('web'), opts);
      logs.push(...opts.logs);
      kinds.push(r.disks.map((d) => d.differencing));
    }
    expect(kinds).toEqual([[false], [true], [false], [true], [false]]);
    expect(logs.join('\n')).toMatch(/holds 2 points \(full interval 2\); starting a new chain with a full VHD/);
    const { points } = await listBackupPoints(remote);
    const day = new Date().toISOString().slice(0, 10);
    expect(points.every((p) => (p.metadata.tags as string[]).includes(`daily=${day}`))).toBe(true);
  });

  it('deletes full points whole (metadata, XVA, checksum), keeping the N newest', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('web');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          await runFullBackup(
            env.xapi,
            await vmRef('web'),
            options(remote, { jobId: 'job-full', retention: { keep: 1 } }),
          )
        ).pointId,
      );
    const dir = path.join(remote, 'xo-vm-backups', vmUuid);
    expect(
      readdirSync(dir)
        .filter((n) => !n.startsWith('.'))
        .sort(),
    ).toEqual([`${ids[2]}.json`, `${ids[2]}.xva`, `${ids[2]}.xva.checksum`]);
    expect(existsSync(path.join(dir, `${ids[0]}.xva`))).toBe(false);
  });
});
