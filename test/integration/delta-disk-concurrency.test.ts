import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { forEachLimited } from '../../src-main/backup/for-each-limited.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { chainDigest } from '../helpers/vhd-chains.js';

// Disks of one VM exported in parallel (a job's diskConcurrency): seen at the host, chains still exact.
const env = withSimulator();
const { temp } = env;
afterEach(() => env.sim.control.clearFaults());

describe('delta backups: disks in parallel', () => {
  it('exports the disks of a VM two at a time when asked, one at a time otherwise; every chain reads back exact', async () => {
    const remote = temp();
    const ref = (await resolveVms(env.xapi, ['web01'])).selected[0]!.ref;
    env.sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 8 * MiB });

    env.sim.control.resetStats();
    const one = await runDeltaBackup(
      env.xapi,
      ref,
      testBackupOptions(remote, temp(), { jobId: 'job-par', diskConcurrency: 1 }),
    );
    expect(env.sim.control.stats().maxConcurrentExports).toBe(1);

    await env.sim.control.guestWrite(env.sim.control.vmUuidByName('web01'), 0.2, 7);
    env.sim.control.resetStats();
    const opts = testBackupOptions(remote, temp(), { jobId: 'job-par', diskConcurrency: 2 });
    const two = await runDeltaBackup(env.xapi, ref, opts);
    expect(env.sim.control.stats().maxConcurrentExports).toBe(2);
    expect(two.disks.map((d) => d.name)).toEqual(one.disks.map((d) => d.name));
    expect(two.disks.map((d) => d.differencing)).toEqual([true, true]);
    // Each disk reports its own progress.
    const disksSeen = new Set(opts.progress.filter((p) => p.disk && p.phase === 'done').map((p) => p.disk!.uuid));
    expect([...disksSeen].sort()).toEqual(
      liveDisks(env.sim, 'web01')
        .map((d) => d.uuid)
        .sort(),
    );
    for (const disk of liveDisks(env.sim, 'web01')) {
      const chain = [one, two].map((p) => p.disks.find((d) => d.vdiUuid === disk.uuid)!.path);
      expect(await chainDigest(chain)).toBe(await env.sim.control.hashVdi(disk.uuid));
    }
  });

  it("one disk at a time (the default): each disk reports its own progress in turn, the VM's samples name both disks and carry its phases", async () => {
    const remote = temp();
    const ref = (await resolveVms(env.xapi, ['web01'])).selected[0]!.ref;
    const opts = testBackupOptions(remote, temp(), { jobId: 'job-seq' });
    const r = await runDeltaBackup(env.xapi, ref, opts);
    const disks = liveDisks(env.sim, 'web01');
    expect(disks).toHaveLength(2);
    const ofDisk = (uuid: string) => opts.progress.filter((p) => p.disk?.uuid === uuid);
    for (const d of disks) {
      const samples = ofDisk(d.uuid);
      expect(samples[0]!.disk).toEqual({ uuid: d.uuid, name: d.name });
      expect(samples.map((p) => p.phase).filter((p, i, a) => a[i - 1] !== p)).toEqual(['transfer', 'done']);
      // Its own bytes: what this disk's VHD took, not the VM's sum.
      expect(samples.at(-1)!.bytesWritten).toBe(r.disks.find((x) => x.vdiUuid === d.uuid)!.bytes);
      // Its total: the stream's length, known from the VHD's block table (the host sends none).
      expect(samples.at(-1)!.totalBytes).toBe(samples.at(-1)!.bytesWritten);
    }
    // In turn: the second disk starts after the first is done.
    const index = (uuid: string, phase: string, last = false) =>
      (last ? opts.progress.findLastIndex : opts.progress.findIndex).call(
        opts.progress,
        (p) => p.disk?.uuid === uuid && p.phase === phase,
      );
    const [first, second] = [...disks].sort((a, b) => index(a.uuid, 'transfer') - index(b.uuid, 'transfer'));
    expect(index(first!.uuid, 'done')).toBeLessThan(index(second!.uuid, 'transfer'));
    // The VM's own samples: its phases, both disks named from the transfer on, no bytes of their own.
    const vm = opts.progress.filter((p) => p.disk === null);
    expect(vm.map((p) => p.phase).filter((p, i, a) => a[i - 1] !== p)).toEqual([
      'queued',
      'snapshot',
      'transfer',
      'commit',
      'cleanup',
      'done',
    ]);
    const named = vm.filter((p) => p.phase !== 'queued' && p.phase !== 'snapshot');
    for (const p of named) expect(p.disks?.map((d) => d.uuid).sort()).toEqual(disks.map((d) => d.uuid).sort());
    expect(vm.filter((p) => p.phase === 'transfer').every((p) => p.bytesWritten === 0)).toBe(true);
    // Each disk named with an estimate of its stream from its allocation, so the VM's total is known (as an
    // estimate) before the second disk begins: never below the exact length its BAT gives later.
    for (const d of disks) {
      const estimated = named[0]!.disks!.find((x) => x.uuid === d.uuid)!.estimatedBytes!;
      const exact = ofDisk(d.uuid).at(-1)!.totalBytes!;
      expect(estimated).toBeGreaterThanOrEqual(exact);
      expect(estimated).toBeLessThan(exact * 1.5);
    }
  });

  it('fails the point cleanly when one of the parallel disks fails: no point, no temp file, no snapshot but the base', async () => {
    const remote = temp();
    const ref = (await resolveVms(env.xapi, ['web01'])).selected[0]!.ref;
    env.sim.control.addFault({ kind: 'drop-after', bytes: 1 * MiB, on: 'export_raw_vdi' });
    await expect(
      runDeltaBackup(
        env.xapi,
        ref,
        testBackupOptions(remote, temp(), {
          jobId: 'job-fail',
          diskConcurrency: 2,
          retry: { attempts: 1, backoffMs: () => 0 },
        }),
      ),
    ).rejects.toThrow();
    expect((await listBackupPoints(remote)).points).toEqual([]);
    const files = readdirSync(remote, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
    expect(files.filter((f) => path.basename(f).startsWith('.') && !f.includes('.lock'))).toEqual([]);
    const marked = Object.values(env.sim.control.records('VM')).filter(
      (v) => v.is_a_snapshot === true && (v.other_config as Record<string, string>)['sluice:backup-run'],
    );
    expect(marked.filter((v) => !(v.other_config as Record<string, string>)['sluice:delta-base'])).toEqual([]);
  });
});

describe('forEachLimited', () => {
  it('keeps at most the limit in flight, starts nothing after a failure, and throws the first error', async () => {
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const gate: Array<() => void> = [];
    const done = forEachLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((r) => gate.push(r));
      inFlight--;
      if (n === 2) throw new Error(`item ${n} failed`);
    });
    await expect.poll(() => gate.length).toBe(2);
    gate.shift()!(); // 1 ends, 3 starts
    await expect.poll(() => started).toEqual([1, 2, 3]);
    gate.shift()!(); // 2 fails: nothing more starts
    gate.shift()!(); // 3 ends
    await expect(done).rejects.toThrow('item 2 failed');
    expect(started).toEqual([1, 2, 3]);
    expect(peak).toBe(2);
  });
});
