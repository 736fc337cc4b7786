import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { writeExactly } from '../../src-main/core/random-access-file.js';
import { testRemote } from '../../src-main/remotes/folder-remote.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { REMOTE_MARKER } from '../../src-main/remotes/remote-marker.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import { startSimulator } from '../../src-sim/index.js';
import { hostArgs } from '../helpers/cli-args.js';
import { runCli } from '../helpers/cli.js';
import { testRestoreOptions, vmRefByUuid, vmShape } from '../helpers/restore.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';
import { startSmbShare, smbUnavailable, type SmbShare } from '../helpers/smb-share.js';
import { chainDigest, pointChain } from '../helpers/vhd-chains.js';
import { hashDisksInXva } from '../helpers/xva-content.js';

// Issue 17, "SMB shares, for real": a real Samba server (test/servers/samba-smb.sh), its share mounted the way an
// admin mounts a NAS (kernel cifs where there is one, else the FUSE client smbnetfs), used as a folder remote.
// Every test here goes through that mount; what the server stored is read from its own folder to compare.
// One file for all SMB tests: smbnetfs reaches port 445 only, so one Samba at a time.
const unavailable = smbUnavailable();
if (unavailable) console.warn(`SMB share tests SKIPPED: ${unavailable}`);

const env = withSimulator({
  vms: [haltedVm('app', { system: [24 * MiB, 8 * MiB], data: [12 * MiB + 512 * 1024, 4 * MiB] })],
});
const { temp, vmRef } = env;

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Every file under `dir`, relative, sorted: what the server holds. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    )
    .sort();
}

/** SHA-256 of each disk of a VM, by position. */
async function diskHashes(vmUuid: string): Promise<Record<string, string>> {
  const shape = await vmShape(env.sim, vmRefByUuid(env.sim, vmUuid));
  return Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]));
}

describe.skipIf(unavailable !== undefined)('a real SMB share (Samba) as a folder remote', () => {
  let share: SmbShare;
  beforeAll(async () => {
    share = await startSmbShare();
  }, 120_000);
  afterAll(async () => {
    await share?.stop();
  }, 60_000);

  it('the folder remote on the mount: a new file can be cut to size, replaced in one step, free space is unknown', async () => {
    const remote = new FolderRemote(path.join(share.mountPoint, 'ops'));
    await mkdir(remote.root);
    // smbnetfs refuses ftruncate on a write-only handle (EIO): a file being written is opened read-write.
    const upload = await remote.beginNew('cut.bin');
    await writeExactly(upload.file, Buffer.alloc(3 * MiB, 7), 0);
    await upload.file.truncate(MiB + 5);
    await upload.commit();
    expect(await sha256(path.join(share.serverPath, 'ops', 'cut.bin'))).toBe(
      createHash('sha256')
        .update(Buffer.alloc(MiB + 5, 7))
        .digest('hex'),
    );
    // overwrite renames a temp file over the old one: the server holds the new bytes, and no temp file.
    await remote.writeNew('state.json', '{"v":1}');
    await remote.overwrite('state.json', '{"v":2}');
    expect(readFileSync(path.join(share.serverPath, 'ops', 'state.json'), 'utf8')).toBe('{"v":2}');
    expect(filesUnder(path.join(share.serverPath, 'ops'))).toEqual(['cut.bin', 'state.json']);
    // smbnetfs's statfs says 0 blocks: free space "unknown" (the Dashboard shows that), never "0 B free".
    if (share.via === 'smbnetfs') expect(await remote.freeSpace()).toBeUndefined();
    // The Remotes view's Test writes its full amount there (not a quarter of "0 free"), and leaves nothing.
    const speed = await testRemote(remote.root, 4 * MiB);
    expect(speed.testedBytes).toBe(4 * MiB);
    expect(filesUnder(path.join(share.serverPath, 'ops'))).toEqual(['cut.bin', 'state.json']);
  });

  it('full backup: the XVA on the server is the one written, verify passes, restore is byte-identical', async () => {
    const remote = path.join(share.mountPoint, 'full');
    await mkdir(remote);
    const truth = await diskHashes(env.sim.control.vmUuidByName('app'));
    const r = await runFullBackup(env.xapi, await vmRef('app'), testBackupOptions(remote, temp(), { jobId: 'smb' }));
    // What smbd stored on its own disk is what the backup wrote through the mount.
    const onServer = path.join(share.serverPath, path.relative(share.mountPoint, r.xvaPath));
    expect(await sha256(onServer)).toBe(await sha256(r.xvaPath));
    expect((await hashDisksInXva(onServer, temp())).sort()).toEqual(Object.values(truth).sort());
    const { points } = await listBackupPoints(remote);
    expect(points.map((p) => p.mode)).toEqual(['full']);
    expect((await verifyPoint(points[0]!)).structureOnly).toEqual([]);
    const restored = await restorePoint(env.xapi, points[0]!, testRestoreOptions(temp()));
    expect(await diskHashes(restored.vmUuid)).toEqual(truth);
    // Nothing but the point's files: no temp file, no probe, no FUSE leftover.
    expect(filesUnder(path.join(share.serverPath, 'full')).filter((f) => /(^|\/)\./.test(f))).toEqual([]);
  });

  it('delta chain with retention: the merge runs on the share, every kept point verifies and restores byte-identical', async () => {
    const remote = path.join(share.mountPoint, 'delta');
    await mkdir(remote);
    const vmUuid = env.sim.control.vmUuidByName('app');
    const disks = liveDisks(env.sim, 'app');
    const truth = new Map<string, Record<string, string>>(); // point id → disk uuid → sha256 at backup time
    const byPosition = new Map<string, Record<string, string>>();
    for (let i = 0; i < 4; i++) {
      if (i > 0) env.sim.control.guestWrite(vmUuid, 0.1, 300 + i);
      const opts = testBackupOptions(remote, temp(), { jobId: 'smb-delta', retention: { keep: 2 } });
      const r = await runDeltaBackup(env.xapi, await vmRef('app'), opts);
      expect(r.disks.map((d) => d.differencing)).toEqual(i === 0 ? [false, false] : [true, true]);
      truth.set(
        r.pointId,
        Object.fromEntries(
          await Promise.all(disks.map(async (d) => [d.uuid, await env.sim.control.hashVdi(d.uuid)] as const)),
        ),
      );
      byPosition.set(r.pointId, await diskHashes(vmUuid));
      if (i >= 2) expect(r.retention!.deleted[0]!.collapse!.merged).toHaveLength(2);
    }
    const { points } = await listBackupPoints(remote);
    expect(points.map((p) => p.id)).toEqual([...truth.keys()].slice(-2));
    for (const p of points) {
      for (const d of disks) expect(await chainDigest(await pointChain(p, d.uuid))).toBe(truth.get(p.id)![d.uuid]);
      // Checked against the block checksums, not for structure only: the checksum files still match their VHDs
      // (size and mtime) as the share reports them.
      expect((await verifyPoint(p)).structureOnly).toEqual([]);
    }
    // The oldest kept point is the merged full VHD under its own name; nothing else in the disks' folders on the
    // server: no old VHD, no merge state, no temp file, no FUSE leftover (.fuse_hidden*).
    for (const d of disks) {
      const chain = await pointChain(points[0]!, d.uuid);
      expect(chain).toHaveLength(1);
      const folder = path.join(share.serverPath, path.relative(share.mountPoint, path.dirname(chain[0]!)));
      expect(filesUnder(folder)).toEqual(points.flatMap((p) => [`${p.id}.vhd`, `${p.id}.vhd.checksum.json`]).sort());
    }
    for (const p of points) {
      const restored = await restorePoint(env.xapi, p, testRestoreOptions(temp(), { points }));
      expect(await diskHashes(restored.vmUuid)).toEqual(byPosition.get(p.id));
    }
  });

  /**
   * The seed scenario on the share: a host that gives up after 2 s without a read, 2 MiB/s from it, and every smbd
   * of the share SIGSTOPped for 30 s once the transfer is under way, then SIGCONTed.
   */
  async function pausedBackup(mode: 'full' | 'delta', disks: number) {
    const sim = await startSimulator({
      vms: [
        {
          name: 'big',
          powerState: 'Halted',
          disks: Array.from({ length: disks }, (_, i) => ({
            name: `big disk ${i}`,
            size: (80 / disks) * MiB,
            allocated: (80 / disks) * MiB,
          })),
        },
      ],
      loginFailureDelayMs: 50,
      faults: ['stall-abort=2000,on=export', `rate-limit=${2 * MiB},on=export`],
    });
    const xapi = await connect(sim);
    const remote = path.join(share.mountPoint, `paused-${mode}`);
    await mkdir(remote);
    const seen = { paused: [] as number[], spoolMax: 0, memoryMax: 0, attemptMax: 0, destinationBottleneck: false };
    let resumed: Promise<void> | undefined;
    const opts = testBackupOptions(remote, temp(), {
      jobId: `smb-paused-${mode}`,
      memoryBufferBytes: 2 * MiB,
      spoolCapBytes: 96 * MiB,
      diskConcurrency: disks,
      retry: { attempts: 1, backoffMs: () => 0 },
      onProgress: (p) => {
        seen.spoolMax = Math.max(seen.spoolMax, p.spoolBytes);
        seen.memoryMax = Math.max(seen.memoryMax, p.memoryBytes);
        seen.attemptMax = Math.max(seen.attemptMax, p.attempt);
        if (p.bottleneck === 'destination') seen.destinationBottleneck = true;
        if (!resumed && p.phase === 'transfer' && p.bytesWritten > 1 * MiB) {
          seen.paused = share.pause();
          resumed = new Promise((resolve) => setTimeout(resolve, 30_000)).then(() => share.resume());
        }
      },
    });
    try {
      const { selected } = await resolveVms(xapi, ['big']);
      const run = mode === 'full' ? runFullBackup : runDeltaBackup;
      const result = await run(xapi, selected[0]!.ref, opts);
      await resumed;
      const truth = await Promise.all(liveDisks(sim, 'big').map((d) => sim.control.hashVdi(d.uuid)));
      const { points } = await listBackupPoints(remote);
      return { result, seen, truth, points, disks: liveDisks(sim, 'big'), opts };
    } finally {
      share.resume();
      await xapi.close();
      await sim.stop();
    }
  }

  /** What both forms of the scenario prove: no retry, the spool took the pause, memory within its budget. */
  function expectAbsorbed(seen: Awaited<ReturnType<typeof pausedBackup>>['seen'], minSpooled: number) {
    expect(seen.paused.length).toBeGreaterThanOrEqual(2); // the parent smbd and the one serving the mount
    expect(seen.attemptMax).toBe(1); // no retry: the host never gave up
    // The host's export kept flowing into the spool on local disk while the share answered nothing, within the cap.
    expect(seen.spoolMax).toBeGreaterThan(minSpooled);
    expect(seen.spoolMax).toBeLessThanOrEqual(96 * MiB);
    expect(seen.destinationBottleneck).toBe(true);
    // Memory bounded as slow-destination.test.ts checks it: the 30 s of export went to the spool on disk, and the
    // memory buffer never held more than its budget. (The process's RSS is no measure here: the simulated host
    // runs in this process; bench/seed-scenario.ts measures peak RSS apart.)
    expect(seen.memoryMax).toBeLessThanOrEqual(2 * MiB);
  }

  it('the seed scenario: smbd paused for 30 s mid-backup while the host gives up after 2 s; the spool absorbs it', async () => {
    const { result, seen, truth, points } = await pausedBackup('full', 1);
    if (!('xvaPath' in result)) throw new Error('a full backup has an XVA');
    expect(result.attempts).toBe(1);
    expect(result.spoolPeakBytes).toBeGreaterThan(40 * MiB);
    expect(result.spoolPeakBytes).toBeLessThanOrEqual(96 * MiB);
    expectAbsorbed(seen, 40 * MiB);
    // Byte-identical, as the server stored it.
    const onServer = path.join(share.serverPath, path.relative(share.mountPoint, result.xvaPath));
    expect(await hashDisksInXva(onServer, temp())).toEqual(truth);
    expect((await verifyPoint(points[0]!)).structureOnly).toEqual([]);
  }, 180_000);

  it('the same pause under an incremental backup of two disks at once: both VHDs complete and byte-identical', async () => {
    const { result, seen, truth, points, disks } = await pausedBackup('delta', 2);
    expectAbsorbed(seen, 20 * MiB);
    if (!('disks' in result)) throw new Error('an incremental backup has disks');
    expect(result.disks.map((d) => d.differencing)).toEqual([false, false]);
    expect(await Promise.all(disks.map(async (d) => chainDigest(await pointChain(points[0]!, d.uuid))))).toEqual(truth);
    expect((await verifyPoint(points[0]!)).structureOnly).toEqual([]);
  }, 180_000);

  it('a share that is not mounted is refused by `sluice backup` before anything is written, with the remote and what to do', async () => {
    // The admin's /mnt/nas: the share mounted there (a bind of the SMB mount: a mount point of its own).
    const base = temp();
    const nas = path.join(base, 'nas');
    await mkdir(nas);
    await mkdir(path.join(share.mountPoint, 'cron'));
    execFileSync('mount', ['--bind', path.join(share.mountPoint, 'cron'), nas]);
    let bound = true;
    const dataDir = temp();
    const spoolDir = temp();
    const cli = (remote: string) =>
      runCli([
        'backup',
        ...hostArgs(env.sim, env.passwordFile),
        ...['--vm', 'app', '--remote', remote, '--mode', 'full', '--data-dir', dataDir, '--spool-dir', spoolDir],
      ]);
    // Not counting the base snapshot the delta chain above keeps on purpose.
    const snapshots = () =>
      Object.values(env.sim.control.records('VM')).filter(
        (v) => v.is_a_snapshot === true && !(v.other_config as Record<string, string>)['sluice:delta-base'],
      );
    try {
      const first = await cli(nas);
      expect(first.code, first.stderr).toBe(0);
      if (share.via === 'smbnetfs') expect(first.stderr).toContain('free space unknown');
      // The first backup marked the remote (on the server, beside XO's folders) and the data folder remembers it.
      expect(filesUnder(path.join(share.serverPath, 'cron')).filter((f) => !f.startsWith('xo-vm-backups/'))).toEqual([
        REMOTE_MARKER,
      ]);
      const pointsBefore = filesUnder(path.join(share.serverPath, 'cron'));

      // The NAS failed to mount: /mnt/nas is an empty folder on the local disk. Cron runs the same command.
      execFileSync('umount', [nas]);
      bound = false;
      expect(readdirSync(nas)).toEqual([]);
      const refused = await cli(nas);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`The remote ${nas} is not on the file system it was on`);
      expect(refused.stderr).toMatch(/Mount the share/);
      expect(readdirSync(nas)).toEqual([]); // nothing written on the local disk
      expect(snapshots()).toEqual([]); // nor on the host
      // The marker put back by hand on the local folder does not fool it: the folder is on another mount now.
      writeFileSync(path.join(nas, REMOTE_MARKER), '');
      const stillRefused = await cli(nas);
      expect(stillRefused.code).not.toBe(0);
      expect(stillRefused.stderr).toContain(`Sluice first wrote there on the one mounted at ${nas}`);
      expect(readdirSync(nas)).toEqual([REMOTE_MARKER]);
      rmSync(path.join(nas, REMOTE_MARKER));

      // Mounted again: the backup goes to the share.
      execFileSync('mount', ['--bind', path.join(share.mountPoint, 'cron'), nas]);
      bound = true;
      const again = await cli(nas);
      expect(again.code, again.stderr).toBe(0);
      expect(filesUnder(path.join(share.serverPath, 'cron')).length).toBeGreaterThan(pointsBefore.length);
    } finally {
      if (bound) execFileSync('umount', [nas]);
    }

    // The share itself unmounted: its folder is missing, and a missing remote is never created.
    const remote = path.join(share.mountPoint, 'cron');
    await share.unmount();
    try {
      const missing = await cli(remote);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain(`The remote ${remote} does not exist`);
      expect(existsSync(path.dirname(remote))).toBe(false);
      expect(snapshots()).toEqual([]);
    } finally {
      await share.remount();
    }
  }, 180_000);
});
