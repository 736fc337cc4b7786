import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import {
  BACKUP_RUN_KEY,
  DELTA_BASE_KEY,
  destroySnapshotWithDisks,
  PENDING_BASE_KEY,
} from '../../src-main/backup/host-snapshot.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';

// Issue 13: a kill between the metadata write and the tagging of the new base (or at any other step of the
// tag, untag and destroy sequence) must leave the next run with exactly one base and doing a delta.

const VM = 'files';
const JOB = 'job-kill';
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
          { name: 'files system', size: 16 * MiB, allocated: 4 * MiB },
          { name: 'files data', size: 8 * MiB, allocated: 2 * MiB },
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
beforeEach(async () => {
  for (const ref of await xapi.call<string[]>('VM.get_snapshots', vmRef)) await destroySnapshotWithDisks(xapi, ref);
});

/**
 * The session of a process killed just before the first host call `at` matches: that call and every later
 * one never reach the host, so nothing after the kill (not even the failed run's own clean-up) happens there.
 */
function killedBefore(at: (method: string, args: unknown[]) => boolean): XapiSession {
  let dead = false;
  const session = Object.create(xapi) as XapiSession;
  session.call = <T>(method: string, ...args: unknown[]): Promise<T> => {
    dead ||= at(method, args);
    if (dead) return Promise.reject(new Error(`killed before ${method}`));
    return xapi.call<T>(method, ...args);
  };
  return session;
}

const snapshots = () =>
  Object.values(sim.control.records('VM')).filter((v) => v.is_a_snapshot === true) as Array<{
    uuid: string;
    other_config: Record<string, string>;
  }>;
const snapshotDisks = () =>
  Object.values(sim.control.records('VDI')).filter((v) => v.is_a_snapshot === true && v.snapshot_of !== undefined);

const steps: Array<[string, (method: string, args: unknown[]) => boolean]> = [
  [
    'after the snapshot, before it is marked as Sluice’s',
    (m, a) => m === 'VM.add_to_other_config' && a[1] === BACKUP_RUN_KEY,
  ],
  ['before it is marked as a pending base', (m, a) => m === 'VM.add_to_other_config' && a[1] === PENDING_BASE_KEY],
  ['between the metadata write and the tagging', (m, a) => m === 'VM.add_to_other_config' && a[1] === DELTA_BASE_KEY],
  ['between the tagging and the untagging', (m) => m === 'VM.remove_from_other_config'],
  ['before the old base’s disks are destroyed', (m) => m === 'VDI.destroy'],
  ['between the old base’s disks and its record', (m) => m === 'VM.destroy'],
];

describe('delta backups: a kill at any step of the snapshot hand-over', () => {
  it.each(steps)('killed %s: the next run finds one base and makes a delta', async (_step, at) => {
    const remote = temp();
    const uuid = sim.control.vmUuidByName(VM);
    await runDeltaBackup(xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
    sim.control.guestWrite(uuid, 0.2, 7);
    const killed = testBackupOptions(remote, temp(), { jobId: JOB });
    await runDeltaBackup(killedBefore(at), vmRef, killed).catch(() => undefined);
    // The kill happened where it was meant to: some snapshot of this job is still on the host.
    expect(snapshots().length).toBeGreaterThan(0);

    sim.control.guestWrite(uuid, 0.2, 8);
    const next = await runDeltaBackup(xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
    expect(next.disks.map((d) => d.differencing)).toEqual([true, true]);

    const left = snapshots();
    expect(left).toHaveLength(1);
    expect(left[0]!.other_config).toEqual({ [DELTA_BASE_KEY]: JOB });
    expect(snapshotDisks()).toHaveLength(2);
    const { points } = await listBackupPoints(remote);
    const newest = points.at(-1)!;
    expect(newest.id).toBe(next.pointId);
    expect(newest.metadata.vmSnapshot.uuid).toBe(left[0]!.uuid);
    for (const d of liveDisks(sim, VM))
      expect(await chainDigest(await pointChain(newest, d.uuid))).toBe(await sim.control.hashVdi(d.uuid));
  });
});
