// Throughput and memory of a full backup against `curl -o` of the same export, in one run.
//   npx tsx bench/backup-throughput.ts [--sizes 4G,16G] [--dir DIR]
// Prints, per disk size: curl's time, sluice's time, the ratio (target >= 0.95), and sluice's peak RSS
// (target <= 150 MiB, flat across sizes). Both write into DIR (default: the OS temp folder, a local disk).
// Sluice fsyncs a backup before calling it done and curl does not, so on a disk slower than the host the
// ratio measures the disk; `--dir /dev/shm` (tmpfs: nothing to wait for) measures the client alone.
//
// The simulated host runs pinned to CPU 0 and the client (curl, then sluice) to CPU 1: in the field the host
// is another machine, and on a 2-core box an unpinned host would take its CPU from whichever client is
// busier, which measures the box rather than the client.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildCli } from '../scripts/build-cli.mjs';
import { cpuTimesMs, runMeasured } from './lib/process-probe.js';
import { firstVm } from './lib/rpc.js';
import { startSimProcess } from './lib/sim-process.js';
import { writePasswordFile } from '../test/helpers/cli-args.js';
import { fullBackupArgs, jsonEvents, runSluiceOnCpu1 } from './lib/sluice-cli.js';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '4G' }, dir: { type: 'string', default: os.tmpdir() } },
});
const sizes = values.sizes!.split(',');
const MiB = 1024 * 1024;

// The CLI bundle is built now, not inside the first measured run.
await buildCli();

const rows: string[] = [];
const share = (ms: number, wallMs: number) => `${(ms / 1000).toFixed(2)} (${Math.round((100 * ms) / wallMs)} %)`;
const cpu = (r: { cpuUserMs: number; cpuSysMs: number; wallMs: number }) =>
  `${(r.cpuUserMs / 1000).toFixed(2)}+${(r.cpuSysMs / 1000).toFixed(2)} (${Math.round((100 * (r.cpuUserMs + r.cpuSysMs)) / r.wallMs)} %)`;
for (const size of sizes) {
  const work = mkdtempSync(path.join(values.dir!, 'sluice-bench-'));
  const sim = await startSimProcess(
    ['--vms', '1', '--disk-size', size, '--allocated', '1', '--login-failure-delay', '100'],
    { cpu: 0 },
  );
  try {
    const vm = await firstVm(sim.url, sim.username, sim.password);
    const exportUrl = `${sim.url}/export?ref=${encodeURIComponent(vm.ref)}&session_id=${encodeURIComponent(vm.session)}&use_compression=false`;
    const hostCpu = () => cpuTimesMs(sim.child.pid!).reduce((a, b) => a + b, 0);
    let host0 = hostCpu();
    const curl = await runMeasured('taskset', [
      '-c',
      '1',
      'curl',
      '-sS',
      '-k',
      '-o',
      path.join(work, 'curl.xva'),
      exportUrl,
    ]);
    if (curl.code !== 0) throw new Error(`curl failed: ${curl.stderr}`);
    const curlHostMs = hostCpu() - host0;
    // Sluice fsyncs what it writes (a point must survive a power cut); curl does not. Also time curl + fsync.
    const sync = await runMeasured('sync', [path.join(work, 'curl.xva')]);
    rmSync(path.join(work, 'curl.xva'));

    const pw = writePasswordFile(work, sim.password);
    // Run as `npx sluice` runs it: the executable itself, through its shebang (same process, its flags).
    host0 = hostCpu();
    const sluice = await runSluiceOnCpu1(fullBackupArgs(sim, pw, vm.name, work));
    if (sluice.code !== 0) throw new Error(`sluice failed: ${sluice.stderr}\n${sluice.stdout.slice(-2000)}`);
    const sluiceHostMs = hostCpu() - host0;
    const result = jsonEvents(sluice.stdout).find((e) => e.type === 'result')!;
    const bytes = result.bytes as number;
    rows.push(
      [
        `disk ${size} into ${values.dir}`,
        `export ${(bytes / MiB).toFixed(0)} MiB`,
        `curl ${(curl.wallMs / 1000).toFixed(2)} s (${(bytes / MiB / (curl.wallMs / 1000)).toFixed(0)} MiB/s)`,
        `sluice ${(sluice.wallMs / 1000).toFixed(2)} s (${(bytes / MiB / (sluice.wallMs / 1000)).toFixed(0)} MiB/s)`,
        `throughput ratio sluice/curl ${(curl.wallMs / sluice.wallMs).toFixed(3)} (target >= 0.95)`,
        `vs curl+fsync ${((curl.wallMs + sync.wallMs) / sluice.wallMs).toFixed(3)}`,
        `sluice peak RSS ${(sluice.peakRssBytes / MiB).toFixed(0)} MiB (target <= 150)`,
        // Whichever of the two cores is busy the whole run is the bottleneck: the host's (CPU 0) or the client's (CPU 1).
        `CPU s (user+sys, busy share of the run): curl ${cpu(curl)}, host meanwhile ${share(curlHostMs, curl.wallMs)}; sluice ${cpu(sluice)}, host meanwhile ${share(sluiceHostMs, sluice.wallMs)}`,
        `waited for host ${result.waitedForHostMs} ms, for destination ${result.waitedForDestinationMs} ms, in-run ${result.durationMs} ms`,
      ].join('  |  '),
    );
    console.log(rows.at(-1));
  } finally {
    await sim.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
