// An incremental backup of a 16 GiB disk with about 1 % of its 2 MiB blocks changed, against the full backup
// (the chain's first VHD) of the same disk, in one run.
//   npx tsx bench/delta-backup.ts [--size 16G] [--changed 0.01]
// Prints both times and bytes, the bytes the delta moved against the changed blocks' bytes (target <= 1.1x,
// the rest being VHD metadata), and the delta's time as a share of the full's (target < 5 %).
//
// Which blocks changed is the host's word, not ours: VDI.list_changed_blocks (CBT) between a snapshot taken
// with the full and one taken with the delta. As in backup-throughput.ts, the simulated host is pinned to
// CPU 0 and sluice to CPU 1.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { firstVm, rpc } from './lib/rpc.js';
import { simControl, startSimProcess } from './lib/sim-process.js';
import { backupCliArgs, writePasswordFile } from '../test/helpers/cli-args.js';
import { jsonEvents, runSluiceOnCpu1 } from './lib/sluice-cli.js';

const { values } = parseArgs({
  options: { size: { type: 'string', default: '16G' }, changed: { type: 'string', default: '0.01' } },
});
const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;
const CLUSTER = 64 * 1024;
const wantedBlockFraction = Number(values.changed);

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'sluice-bench-delta-'));
const sim = await startSimProcess(
  ['--vms', '1', '--disk-size', values.size!, '--allocated', '1', '--login-failure-delay', '100'],
  { cpu: 0 },
);
try {
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const call = (method: string, ...params: unknown[]) => rpc(sim.url, method, [vm.session, ...params]);
  const pw = writePasswordFile(work, sim.password);
  const backup = async () => {
    const r = await runSluiceOnCpu1(
      backupCliArgs(sim, pw, {
        vm: vm.name,
        remote: path.join(work, 'remote'),
        mode: 'delta',
        dataDir: path.join(work, 'data'),
        spoolDir: work,
        json: true,
      }),
    );
    if (r.code !== 0) throw new Error(`sluice failed: ${r.stderr}\n${r.stdout.slice(-2000)}`);
    const result = jsonEvents(r.stdout).find((e) => e.type === 'result')!;
    return { wallMs: r.wallMs, bytes: result.bytes as number, inRunMs: result.durationMs as number };
  };
  /** A snapshot's disk with CBT on, to ask the host what changed between two moments. */
  const markDisk = async (label: string) => {
    const snap = String(await call('VM.snapshot', vm.ref, label));
    const vbds = (await call('VM.get_VBDs', snap)) as string[];
    for (const vbd of vbds) {
      if ((await call('VBD.get_type', vbd)) !== 'Disk') continue;
      const vdi = String(await call('VBD.get_VDI', vbd));
      await call('VDI.enable_cbt', vdi);
      return vdi;
    }
    throw new Error('no disk');
  };

  const before = await markDisk('bench before');
  const full = await backup();
  // guestWrite rewrites 64 KiB clusters in runs of 1 to 16 (8.5 on average) at random places, each run
  // mostly within one 2 MiB block: this many clusters lands on about the wanted share of blocks.
  const diskBytes = full.bytes; // the full VHD of a fully allocated disk: the disk plus metadata
  const clusterFraction = (wantedBlockFraction * (diskBytes / BLOCK) * 8.5) / (diskBytes / CLUSTER);
  await simControl(sim, 'POST', `/vms/${vm.uuid}/guest-write`, { fraction: clusterFraction, seed: 7 });
  const after = await markDisk('bench after');
  const delta = await backup();

  const bitmap = Buffer.from(String(await call('VDI.list_changed_blocks', before, after)), 'base64');
  const clustersPerBlock = BLOCK / CLUSTER;
  const changedBlocks = new Set<number>();
  let changedClusters = 0;
  for (let c = 0; c < bitmap.length * 8; c++) {
    if ((bitmap[c >> 3]! >> (7 - (c & 7))) & 1) {
      changedClusters++;
      changedBlocks.add(Math.floor(c / clustersPerBlock));
    }
  }
  const changedBytes = changedBlocks.size * BLOCK;
  const totalBlocks = Math.ceil((bitmap.length * 8 * CLUSTER) / BLOCK);
  console.log(
    [
      `disk ${values.size}: ${changedBlocks.size} of ${totalBlocks} blocks changed (${((100 * changedBlocks.size) / totalBlocks).toFixed(2)} %, ${changedClusters} clusters)`,
      `full ${(full.bytes / MiB).toFixed(0)} MiB in ${(full.wallMs / 1000).toFixed(2)} s (in-run ${(full.inRunMs / 1000).toFixed(2)} s)`,
      `delta ${(delta.bytes / MiB).toFixed(1)} MiB in ${(delta.wallMs / 1000).toFixed(2)} s (in-run ${(delta.inRunMs / 1000).toFixed(2)} s)`,
      `delta bytes / changed blocks' bytes ${(delta.bytes / changedBytes).toFixed(4)} (target <= 1.1)`,
      `delta time / full time ${((100 * delta.wallMs) / full.wallMs).toFixed(2)} % (in-run ${((100 * delta.inRunMs) / full.inRunMs).toFixed(2)} %; target < 5 %)`,
    ].join('  |  '),
  );
} finally {
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
}
