import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { runCli } from '../helpers/cli.js';
import { liveDisks, testBackupOptions } from '../helpers/sim.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';
import { haltedVm, systemAndData, withSimulator } from '../helpers/simulator-suite.js';

// Issue 13: a delta backup that fails (or is cancelled) on its second disk left the first disk's finished
// VHD, and its block digests, on the remote with no point naming them. A failed run removes what it wrote.

const VM = 'pair';
const JOB = 'job-pair';
const env = withSimulator({ vms: [haltedVm(VM, systemAndData)] });
const { temp } = env;
let vmRef: string;
beforeAll(async () => {
  vmRef = await env.vmRef(VM);
});

/** Every file under the job's disk folders, relative to the remote. */
function diskFiles(remote: string): string[] {
  const root = path.join(remote, 'xo-vm-backups', env.sim.control.vmUuidByName(VM), 'vdis', JOB);
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
      const uuid = env.sim.control.vmUuidByName(VM);
      const truth = new Map<string, Map<string, string>>();
      for (let i = 0; i < 2; i++) {
        if (i) env.sim.control.guestWrite(uuid, 0.2, 20 + i);
        const r = await runDeltaBackup(env.xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
        const hashes = new Map<string, string>();
        for (const d of liveDisks(env.sim, VM)) hashes.set(d.uuid, await env.sim.control.hashVdi(d.uuid));
        truth.set(r.pointId, hashes);
      }
      const before = diskFiles(remote);
      expect(before).toHaveLength(8); // two points × two disks × (VHD + digests)

      env.sim.control.guestWrite(uuid, 0.2, 30);
      const cancel = new AbortController();
      let finishedDisks = 0;
      const opts = testBackupOptions(remote, temp(), {
        jobId: JOB,
        signal: cancel.signal,
        retry: { attempts: 2, backoffMs: () => 10 },
        // The first disk is in place (VHD and digests) when it reports done; the second then fails.
        onProgress: (p) => {
          if (p.disk === null || p.phase !== 'done' || finishedDisks++ > 0) return;
          if (how === 'fails') env.sim.control.addFault('embedded-error,on=export_raw_vdi');
          else cancel.abort();
        },
      });
      try {
        await expect(runDeltaBackup(env.xapi, vmRef, opts)).rejects.toThrow(how === 'fails' ? /./ : /cancelled/);
      } finally {
        env.sim.control.clearFaults();
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
