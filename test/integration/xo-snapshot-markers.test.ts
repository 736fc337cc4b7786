import { describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// The snapshot an incremental job keeps is marked as Xen Orchestra marks its own (xo:backup:job, schedule, vm,
// datetime, exported, deltaChainLength, on the snapshot and its disks), so that XO finds it as the job's base;
// and a base XO marked for the job is taken when the remote's newest point records it, and left to XO.

const env = withSimulator({
  vms: [
    {
      name: 'app',
      powerState: 'Halted',
      disks: [
        { name: 'app os', size: 16 * MiB, allocated: 4 * MiB },
        { name: 'app data', size: 8 * MiB, allocated: 2 * MiB },
      ],
    },
    { name: 'web', powerState: 'Halted', disks: [{ name: 'web disk', size: 8 * MiB, allocated: 2 * MiB }] },
  ],
});
const temp = () => env.temp();

type Rec = Record<string, unknown>;
const oc = (r: Rec) => r.other_config as Record<string, string>;

function snapshotsOf(vmName: string): Array<[string, Rec]> {
  const vmUuid = env.sim.control.vmUuidByName(vmName);
  const vms = env.sim.control.records('VM');
  const live = Object.entries(vms).find(([, v]) => v.uuid === vmUuid)![0];
  return Object.entries(vms).filter(([, v]) => v.is_a_snapshot === true && v.snapshot_of === live);
}

function disksOf(snapRef: string): Rec[] {
  const vdis = env.sim.control.records('VDI');
  return Object.values(env.sim.control.records('VBD'))
    .filter((b) => b.VM === snapRef && b.type === 'Disk')
    .map((b) => vdis[b.VDI as string]!);
}

const run = async (vm: string, remote: string, jobId: string) =>
  runDeltaBackup(
    env.xapi,
    (await resolveVms(env.xapi, [vm])).selected[0]!.ref,
    testBackupOptions(remote, temp(), { jobId }),
  );

describe('the base snapshot, as Xen Orchestra marks it', () => {
  it('carries job, schedule, VM, date, exported and the delta chain length, on the snapshot and on each disk', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('app');
    const first = await run('app', remote, 'nightly');
    let [[ref, snap]] = snapshotsOf('app') as [[string, Rec]];
    const expected = {
      'xo:backup:job': 'nightly',
      'xo:backup:schedule': 'nightly.unscheduled',
      'xo:backup:vm': vmUuid,
      'xo:backup:exported': 'true',
      'xo:backup:deltaChainLength': '0',
    };
    expect(first.disks.every((d) => !d.differencing)).toBe(true);
    for (const o of [snap, ...disksOf(ref)]) {
      expect(oc(o)).toMatchObject(expected);
      expect(oc(o)['xo:backup:datetime']).toMatch(/^\d{8}T\d{2}:\d{2}:\d{2}Z$/);
    }
    env.sim.control.guestWrite(vmUuid, 0.05, 3);
    const second = await run('app', remote, 'nightly');
    expect(second.disks.every((d) => d.differencing)).toBe(true);
    [[ref, snap]] = snapshotsOf('app') as [[string, Rec]];
    for (const o of [snap, ...disksOf(ref)]) expect(oc(o)['xo:backup:deltaChainLength']).toBe('1');
  });

  it('a base Xen Orchestra marked for the job continues the chain, and stays XO’s', async () => {
    const remote = temp();
    const vmUuid = env.sim.control.vmUuidByName('web');
    await run('web', remote, 'shared-job');
    // Make the kept snapshot XO's own: XO's name, XO's keys only (as XO's own run of this job would leave it).
    const [[xoRef]] = snapshotsOf('web') as [[string, Rec]];
    for (const key of ['sluice:delta-base', 'sluice:backup-run', 'sluice:pending-base'])
      await env.xapi.call('VM.remove_from_other_config', xoRef, key);
    await env.xapi.call('VM.set_name_label', xoRef, '[XO Backup shared-job] web');
    env.sim.control.guestWrite(vmUuid, 0.05, 4);

    const next = await run('web', remote, 'shared-job');
    // Built on XO's snapshot: a differencing VHD, not a new full chain.
    expect(next.disks.map((d) => d.differencing)).toEqual([true]);
    const after = snapshotsOf('web').map(([r]) => r);
    expect(after).toContain(xoRef);
    expect(after).toHaveLength(2);
    // Another job never takes it.
    env.sim.control.guestWrite(vmUuid, 0.05, 5);
    const other = await run('web', remote, 'other-job');
    expect(other.disks.map((d) => d.differencing)).toEqual([false]);
    expect(snapshotsOf('web').map(([r]) => r)).toContain(xoRef);
  });
});
