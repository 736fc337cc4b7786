import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';

// Issue 13: a delta backup that fails (or is cancelled) on its second disk left the first disk's finished
// VHD, and its block digests, on the remote with no point naming them. A failed run removes what it wrote.

const VM = 'pair';
const JOB = 'job-pair';
let sim: SimHandle;
let xapi: XapiSession;
let vmRef: string;
const { temp, cleanupAll } = tempDirs();
beforeAll(async () => {
  sim = await startSimulator({
    vms: [
      {
        name: VM,
        powerState: 'Halted',
        disks: [
          { name: 'pair system', size: 16 * MiB, allocated: 4 * MiB },
          { name: 'pair data', size: 8 * MiB, allocated: 2 * MiB },
        ],
      },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
  vmRef = (await resolveVms(xapi, [VM])).selected[0]!.ref;
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

/** Every file under the job's disk folders, relative to the remote. */
function diskFiles(remote: string): string[] {
  const root = path.join(remote, 'xo-vm-backups', sim.control.vmUuidByName(VM), 'vdis', JOB);
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(remote, path.join(e.parentPath, e.name)))
    .sort();
}

describe('a delta backup that fails on its second disk', () => {
  it.each(['fails', 'is cancelled'] as const)(
    'when it %s, no VHD of that run remains and the earlier points still restore',
    async (how) => {
      const remote = temp();
      const uuid = sim.control.vmUuidByName(VM);
      const truth = new Map<string, Map<string, string>>();
      for (let i = 0; i < 2; i++) {
        if (i) sim.control.guestWrite(uuid, 0.2, 20 + i);
        const r = await runDeltaBackup(xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
        const hashes = new Map<string, string>();
        for (const d of liveDisks(sim, VM)) hashes.set(d.uuid, await sim.control.hashVdi(d.uuid));
        truth.set(r.pointId, hashes);
      }
      const before = diskFiles(remote);
      expect(before).toHaveLength(8); // two points × two disks × (VHD + digests)

      sim.control.guestWrite(uuid, 0.2, 30);
      const cancel = new AbortController();
      let finishedDisks = 0;
      const opts = testBackupOptions(remote, temp(), {
        jobId: JOB,
        signal: cancel.signal,
        retry: { attempts: 2, backoffMs: () => 10 },
        // The first disk is in place (VHD and digests) when it reports done; the second then fails.
        onProgress: (p) => {
          if (p.disk === null || p.phase !== 'done' || finishedDisks++ > 0) return;
          if (how === 'fails') sim.control.addFault('embedded-error,on=export_raw_vdi');
          else cancel.abort();
        },
      });
      try {
        await expect(runDeltaBackup(xapi, vmRef, opts)).rejects.toThrow(how === 'fails' ? /./ : /cancelled/);
      } finally {
        sim.control.clearFaults();
      }
      expect(finishedDisks).toBe(1);
      expect(diskFiles(remote)).toEqual(before);

      const { points } = await listBackupPoints(remote);
      expect(points.map((p) => p.id)).toEqual([...truth.keys()]);
      for (const p of points)
        for (const [disk, hash] of truth.get(p.id)!) expect(await chainDigest(await pointChain(p, disk))).toBe(hash);
      const check = await runCli(['check', '--remote', remote]);
      expect(check.stdout).toMatch(/0 problem\(s\) found/);
      expect(check.code).toBe(0);
    },
  );
});
