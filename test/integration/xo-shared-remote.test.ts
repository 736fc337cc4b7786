import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { describe, expect, it } from 'vitest';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { BackupFolder, deleteBackupPoint } from '../../src-main/repository/index.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { metadataOnDisk, writeXoCache, xoListing } from '../helpers/xo-listing-cache.js';

// One remote shared with Xen Orchestra, day after day: XO's listing cache stays true after every Sluice write,
// merge and delete, and the VM folder's lock is XO's own (proper-lockfile, the library XO takes it with).

const env = withSimulator({
  vms: [
    { name: 'app', powerState: 'Halted', disks: [{ name: 'app disk', size: 16 * MiB, allocated: 4 * MiB }] },
    { name: 'web', powerState: 'Halted', disks: [{ name: 'web disk', size: 8 * MiB, allocated: 2 * MiB }] },
  ],
});
const temp = () => env.temp();

const options = (remote: string, extra: Partial<BackupRunOptions> = {}) => testBackupOptions(remote, temp(), extra);
const vmRef = async (name: string) => (await resolveVms(env.xapi, [name])).selected[0]!.ref;
const uuidOf = (name: string) => env.sim.control.vmUuidByName(name);

describe("Xen Orchestra's listing cache (cache.json.gz)", () => {
  it('stays true after every Sluice backup, retention merge and delete of incremental points', async () => {
    const remote = temp();
    const vm = uuidOf('app');
    const opts = () => options(remote, { retention: { keep: 2 } });
    await runDeltaBackup(env.xapi, await vmRef('app'), opts());
    for (let day = 1; day <= 3; day++) {
      // XO lists the folder between Sluice's runs and caches what it saw.
      writeXoCache(remote, vm);
      env.sim.control.guestWrite(vm, 0.05, day);
      await runDeltaBackup(env.xapi, await vmRef('app'), opts());
      expect(xoListing(remote, vm)).toEqual(metadataOnDisk(remote, vm));
    }
    expect(metadataOnDisk(remote, vm)).toHaveLength(2);

    // A delete from Sluice's Backups view (the engine takes the folder's lock around it).
    writeXoCache(remote, vm);
    const folder = await BackupFolder.open(remote, vm);
    const { points } = await folder.listPoints();
    const release = await folder.lock('test delete');
    try {
      await deleteBackupPoint(remote, points[0]!);
    } finally {
      await release();
    }
    expect(metadataOnDisk(remote, vm)).toHaveLength(1);
    expect(xoListing(remote, vm)).toEqual(metadataOnDisk(remote, vm));
  });

  it('stays true when retention deletes a full point (an XVA)', async () => {
    const remote = temp();
    const vm = uuidOf('web');
    await runFullBackup(env.xapi, await vmRef('web'), options(remote, { retention: { keep: 1 } }));
    writeXoCache(remote, vm);
    await runFullBackup(env.xapi, await vmRef('web'), options(remote, { retention: { keep: 1 } }));
    expect(metadataOnDisk(remote, vm)).toHaveLength(1);
    expect(xoListing(remote, vm)).toEqual(metadataOnDisk(remote, vm));
  });
});

describe("the VM folder's lock, as Xen Orchestra takes it", () => {
  it('a folder XO holds is refused, with nothing written; once XO lets go, Sluice backs it up', async () => {
    const remote = temp();
    const vm = uuidOf('web');
    const vmDir = path.join(remote, 'xo-vm-backups', vm);
    mkdirSync(vmDir, { recursive: true });
    // XO's writer: mktree, then lock the VM folder (proper-lockfile's defaults: `<dir>.lock`, 10 s stale, 5 s update).
    const xoRelease = await lockfile.lock(vmDir);
    let err: unknown;
    try {
      err = await runFullBackup(env.xapi, await vmRef('web'), options(remote)).catch((e: unknown) => e);
    } finally {
      await xoRelease();
    }
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe('CONFLICT');
    expect((err as SluiceError).message).toMatch(
      /backup folder is in use by another program, most likely Xen Orchestra/,
    );
    expect(readdirSync(vmDir)).toEqual([]);
    const r = await runFullBackup(env.xapi, await vmRef('web'), options(remote));
    expect(existsSync(r.xvaPath)).toBe(true);
  });

  it('a folder Sluice holds stays held for XO past its 10 s stale time, and is XO’s to take once released', async () => {
    const remote = temp();
    const vm = uuidOf('app');
    const vmDir = path.join(remote, 'xo-vm-backups', vm);
    mkdirSync(vmDir, { recursive: true });
    const folder = await BackupFolder.open(remote, vm);
    const release = await folder.lock('a long merge');
    const lockDir = `${vmDir}.lock`;
    const taken = statSync(lockDir).mtimeMs;
    try {
      await new Promise((r) => setTimeout(r, 11_000));
      // Refreshed as XO refreshes its own, so XO's stale rule never applies to a live holder.
      expect(statSync(lockDir).mtimeMs).toBeGreaterThan(taken);
      const xo = await lockfile.lock(vmDir).catch((e: unknown) => e);
      expect((xo as NodeJS.ErrnoException).code).toBe('ELOCKED');
    } finally {
      await release();
    }
    const xoRelease = await lockfile.lock(vmDir);
    await xoRelease();
  }, 30_000);
});
