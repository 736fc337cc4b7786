import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import {
  BACKUP_RUN_KEY,
  DELTA_BASE_KEY,
  destroySnapshotWithDisks,
  PENDING_BASE_KEY,
} from '../../src-main/backup/host-snapshot.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { liveDisks, testBackupOptions } from '../helpers/sim.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';
import { haltedVm, systemAndData, withSimulator } from '../helpers/simulator-suite.js';

// Issue 13: a kill between the metadata write and the tagging of the new base (or at any other step of the
// tag, untag and destroy sequence) must leave the next run with exactly one base and doing a delta.

const VM = 'files';
const JOB = 'job-kill';
const env = withSimulator({ vms: [haltedVm(VM, systemAndData)] });
const { temp } = env;
let vmRef: string;

beforeAll(async () => {
  vmRef = await env.vmRef(VM);
});
beforeEach(async () => {
  for (const ref of await env.xapi.call<string[]>('VM.get_snapshots', vmRef))
    await destroySnapshotWithDisks(env.xapi, ref);
});

/**
 * The session of a process killed just before the first host call `at` matches: that call and every later
 * one never reach the host, so nothing after the kill (not even the failed run's own clean-up) happens there.
 */
function killedBefore(at: (method: string, args: unknown[]) => boolean): XapiSession {
  let dead = false;
  const session = Object.create(env.xapi) as XapiSession;
  session.call = <T>(method: string, ...args: unknown[]): Promise<T> => {
    dead ||= at(method, args);
    if (dead) return Promise.reject(new Error(`killed before ${method}`));
    return env.xapi.call<T>(method, ...args);
  };
  return session;
}

const snapshots = () =>
  Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true) as Array<{
    uuid: string;
    other_config: Record<string, string>;
  }>;
const snapshotDisks = () =>
  Object.values(env.sim.control.records('VDI')).filter((v) => v.is_a_snapshot === true && v.snapshot_of !== undefined);

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
    const uuid = env.sim.control.vmUuidByName(VM);
    await runDeltaBackup(env.xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
    env.sim.control.guestWrite(uuid, 0.2, 7);
    const killed = testBackupOptions(remote, temp(), { jobId: JOB });
    await runDeltaBackup(killedBefore(at), vmRef, killed).catch(() => undefined);
    // The kill happened where it was meant to: some snapshot of this job is still on the host.
    expect(snapshots().length).toBeGreaterThan(0);

    env.sim.control.guestWrite(uuid, 0.2, 8);
    const next = await runDeltaBackup(env.xapi, vmRef, testBackupOptions(remote, temp(), { jobId: JOB }));
    expect(next.disks.map((d) => d.differencing)).toEqual([true, true]);

    const left = snapshots();
    expect(left).toHaveLength(1);
    // Sluice's own keys say only "the job's base"; XO's say the same in its words (job, exported).
    const config = left[0]!.other_config as Record<string, string>;
    expect(Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith('sluice:')))).toEqual({
      [DELTA_BASE_KEY]: JOB,
    });
    expect(config).toMatchObject({ 'xo:backup:job': JOB, 'xo:backup:exported': 'true' });
    expect(snapshotDisks()).toHaveLength(2);
    const { points } = await listBackupPoints(remote);
    const newest = points.at(-1)!;
    expect(newest.id).toBe(next.pointId);
    expect(newest.metadata.vmSnapshot.uuid).toBe(left[0]!.uuid);
    for (const d of liveDisks(env.sim, VM))
      expect(await chainDigest(await pointChain(newest, d.uuid))).toBe(await env.sim.control.hashVdi(d.uuid));
  });
});
