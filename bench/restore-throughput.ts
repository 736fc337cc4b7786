// Restore and export throughput against plain tools moving the same bytes, in one run.
//   npx tsx bench/restore-throughput.ts [--size 4G]
// 1. Restore of a disk (an incremental point, its chain flattened and streamed to PUT /import_raw_vdi) vs
//    `curl -T` of the same VHD bytes to the same handler: ratio curl/sluice (target >= 0.9).
// 2. Export of a two-file chain to one VHD vs `cp` of the same number of bytes: ratio cp/sluice.
// Host pinned to CPU 0, clients (curl, cp, sluice) to CPU 1, as in backup-throughput.ts.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildCli } from '../scripts/build-cli.mjs';
import { cpuTimesMs, runMeasured, type RunResult } from './lib/process-probe.js';
import { firstVm, rpc } from './lib/rpc.js';
import { simControl, startSimProcess } from './lib/sim-process.js';
import { backupCliArgs, hostArgs, writePasswordFile } from '../test/helpers/cli-args.js';
import { runSluiceOnCpu1 } from './lib/sluice-cli.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '4G' } } });
const MiB = 1024 * 1024;
const work = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-restore-'));
const sim = await startSimProcess(
  ['--vms', '1', '--disk-size', values.size!, '--allocated', '1', '--login-failure-delay', '100'],
  { cpu: 0 },
);
// Run as `npx sluice` runs it (the executable, through its shebang), with the CLI bundle built beforehand.
await buildCli();
const sluice = runSluiceOnCpu1;
try {
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const pw = writePasswordFile(work, sim.password);
  const remote = path.join(work, 'remote');
  const dataDir = path.join(work, 'data');
  const conn = [...hostArgs(sim, pw), '--data-dir', dataDir];
  const backup = async () => {
    const r = await sluice(
      backupCliArgs(sim, pw, { vm: vm.name, remote, mode: 'delta', dataDir, spoolDir: work, json: true }),
    );
    if (r.code !== 0) throw new Error(`backup failed: ${r.stderr}`);
  };
  await backup();
  /** The newest point's disk 0 as one VHD (its chain flattened), measured. */
  const exportVhd = async (out: string) => {
    const r = await sluice([
      'export',
      '--remote',
      remote,
      '--vm',
      vm.name,
      '--format',
      'vhd',
      '--disk',
      '0',
      '--out',
      out,
      '--json',
    ]);
    if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
    return r;
  };

  // The bytes a restore sends: the point's chain flattened to one dynamic VHD.
  const vhd = path.join(work, 'disk.vhd');
  await exportVhd(vhd);
  const bytes = statSync(vhd).size;
  const pools = (await rpc(sim.url, 'pool.get_all_records', [vm.session])) as Record<string, { default_SR: string }>;
  const srRef = Object.values(pools)[0]!.default_SR;
  const [vbd] = (await rpc(sim.url, 'VM.get_VBDs', [vm.session, vm.ref])) as string[];
  const vdi = String(await rpc(sim.url, 'VBD.get_VDI', [vm.session, vbd]));
  const size = Number(await rpc(sim.url, 'VDI.get_virtual_size', [vm.session, vdi]));
  const target = String(
    await rpc(sim.url, 'VDI.create', [
      vm.session,
      {
        name_label: 'curl target',
        SR: srRef,
        virtual_size: String(size),
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ]),
  );
  // Each measured run starts with nothing left to write back from the one before (the backup, the export).
  const settle = () => runMeasured('sync', []);
  await settle();
  const hostCpu = () => cpuTimesMs(sim.child.pid!).reduce((a, b) => a + b, 0);
  const cpu = (r: RunResult, hostMs: number) =>
    `client ${((r.cpuUserMs + r.cpuSysMs) / 1000).toFixed(2)} s (${Math.round((100 * (r.cpuUserMs + r.cpuSysMs)) / r.wallMs)} %), host ${(hostMs / 1000).toFixed(2)} s (${Math.round((100 * hostMs) / r.wallMs)} %)`;
  let host0 = hostCpu();
  const curl = await runMeasured('taskset', [
    '-c',
    '1',
    'curl',
    '-sS',
    '-k',
    '-T',
    vhd,
    `${sim.url}/import_raw_vdi?vdi=${encodeURIComponent(target)}&format=vhd&session_id=${encodeURIComponent(vm.session)}`,
  ]);
  if (curl.code !== 0) throw new Error(`curl failed: ${curl.stderr}`);
  const curlHostMs = hostCpu() - host0;
  await rpc(sim.url, 'VDI.destroy', [vm.session, target]);
  await settle();

  host0 = hostCpu();
  const restore = await sluice(['restore', '--remote', remote, '--vm', vm.name, ...conn, '--disk', '0', '--json']);
  if (restore.code !== 0) throw new Error(`restore failed: ${restore.stderr}\n${restore.stdout.slice(-1000)}`);
  const restoreHostMs = hostCpu() - host0;
  console.log(
    [
      `restore of a ${values.size} disk`,
      `${(bytes / MiB).toFixed(0)} MiB sent`,
      `curl -T ${(curl.wallMs / 1000).toFixed(2)} s`,
      `sluice ${(restore.wallMs / 1000).toFixed(2)} s (process start, login and VDI creation included)`,
      `ratio curl/sluice ${(curl.wallMs / restore.wallMs).toFixed(3)} (target >= 0.9)`,
      `sluice peak RSS ${(restore.peakRssBytes / MiB).toFixed(0)} MiB`,
      `CPU (busy share): curl's run ${cpu(curl, curlHostMs)}; sluice's run ${cpu(restore, restoreHostMs)}`,
    ].join('  |  '),
  );

  // A second point (5 % of the disk rewritten) makes a two-file chain; export flattens it.
  await simControl(sim, 'POST', `/vms/${vm.uuid}/guest-write`, { fraction: 0.05 });
  await backup();
  const flat = path.join(work, 'flat.vhd');
  rmSync(vhd);
  await settle();
  const exp = await exportVhd(flat);
  const flatBytes = statSync(flat).size;
  await settle();
  const cp = await runMeasured('taskset', ['-c', '1', 'cp', flat, path.join(work, 'copy.vhd')]);
  const sync = await runMeasured('sync', [path.join(work, 'copy.vhd')]);
  console.log(
    [
      `export of a 2-file chain to one VHD`,
      `${(flatBytes / MiB).toFixed(0)} MiB written`,
      `cp ${(cp.wallMs / 1000).toFixed(2)} s (+fsync ${(sync.wallMs / 1000).toFixed(2)} s)`,
      `sluice ${(exp.wallMs / 1000).toFixed(2)} s`,
      `ratio cp/sluice ${(cp.wallMs / exp.wallMs).toFixed(3)}, cp+fsync/sluice ${((cp.wallMs + sync.wallMs) / exp.wallMs).toFixed(3)}`,
    ].join('  |  '),
  );
} finally {
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
}
