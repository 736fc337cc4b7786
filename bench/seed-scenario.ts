// The seed's scenario, full size: a host that gives up after 2 s without a read (XenServer 7.5's vhd-tool),
// a destination 4x slower than the host that also stalls for 30 s, twice. The destination is slowed by a
// real mechanism outside the engine: a throttling FUSE filesystem (bench/throttlefs) under the remote folder.
//   npx tsx bench/seed-scenario.ts [--size 512M] [--source-rate 24M] [--stall-seconds 30]
// Prints whether the backup succeeded, in how many attempts, byte-identical or not, and the spool's peak
// against its cap.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hashDisksInXva } from '../test/helpers/xva-content.js';
import { runMeasured } from './lib/process-probe.js';
import { firstVm } from './lib/rpc.js';
import { simControl, startSimProcess } from './lib/sim-process.js';
import { mountThrottled } from './lib/throttled-mount.js';
import { backupCliArgs, writePasswordFile } from '../test/helpers/cli-args.js';
import { jsonEvents, SLUICE_BIN } from './lib/sluice-cli.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512M' },
    'source-rate': { type: 'string', default: '24M' },
    'stall-seconds': { type: 'string', default: '30' },
  },
});
const MiB = 1024 * 1024;
const parse = (s: string) => Number(s.replace(/[MG]$/i, '')) * (/G$/i.test(s) ? 1024 * MiB : /M$/i.test(s) ? MiB : 1);
const sourceRate = parse(values['source-rate']!);
const stallMs = Number(values['stall-seconds']) * 1000;
const spoolCap = 2 * 1024 * MiB;

const work = mkdtempSync(path.join(os.tmpdir(), 'sluice-seed-'));
const sim = await startSimProcess([
  '--vms',
  '1',
  '--disk-size',
  values.size!,
  '--allocated',
  '1',
  '--login-failure-delay',
  '100',
  '--fault',
  'stall-abort=2000,on=export',
  '--fault',
  `rate-limit=${sourceRate},on=export`,
]);
mkdirSync(path.join(work, 'backing'));
const mount = await mountThrottled({
  backingDir: path.join(work, 'backing'),
  mountPoint: path.join(work, 'nas'),
  rateBytesPerSec: sourceRate / 4,
});
try {
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const pw = writePasswordFile(work, sim.password);
  console.log(
    `source ${values['source-rate']}/s, destination ${(sourceRate / 4 / MiB).toFixed(1)} MiB/s, two stalls of ${stallMs / 1000} s, host gives up after 2 s without a read`,
  );
  const stalls = [5_000, 5_000 + stallMs + 15_000].map((at) =>
    setTimeout(
      () => void mount.stall(stallMs).then(() => console.log(`destination stalled for ${stallMs / 1000} s`)),
      at,
    ),
  );
  const run = await runMeasured(
    SLUICE_BIN,
    backupCliArgs(sim, pw, {
      vm: vm.name,
      remote: path.join(work, 'nas', 'repo'),
      mode: 'full',
      dataDir: path.join(work, 'data'),
      spoolDir: work,
      extra: ['--spool-cap', `${spoolCap}`],
      json: true,
    }),
  );
  stalls.forEach(clearTimeout);
  const events = jsonEvents(run.stdout);
  const result = events.find((e) => e.type === 'result') as
    { vmUuid: string; point: string; attempts: number; spoolPeakBytes: number } | undefined;
  const spoolSeen = Math.max(0, ...events.filter((e) => e.type === 'progress').map((e) => e.spoolBytes as number));
  if (run.code !== 0 || !result) {
    console.log(`FAILED (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    process.exitCode = 1;
  } else {
    const xva = path.join(work, 'nas', 'repo', 'xo-vm-backups', result.vmUuid, `${result.point}.xva`);
    const [inBackup] = await hashDisksInXva(xva, work);
    const live = await liveDiskHash();
    console.log(
      [
        `backup succeeded in ${result.attempts} attempt(s), ${(run.wallMs / 1000).toFixed(0)} s`,
        `byte-identical: ${inBackup === live ? 'yes' : 'NO'}`,
        `spool peak ${(result.spoolPeakBytes / MiB).toFixed(0)} MiB of a ${(spoolCap / MiB).toFixed(0)} MiB cap (${result.spoolPeakBytes <= spoolCap && spoolSeen <= spoolCap ? 'within' : 'OVER'})`,
        `peak RSS ${(run.peakRssBytes / MiB).toFixed(0)} MiB`,
      ].join('  |  '),
    );
  }

  async function liveDiskHash(): Promise<string> {
    const { rpc } = await import('./lib/rpc.js');
    const vbds = (await rpc(sim.url, 'VM.get_VBDs', [vm.session, vm.ref])) as string[];
    for (const vbd of vbds) {
      const vdi = String(await rpc(sim.url, 'VBD.get_VDI', [vm.session, vbd]));
      if (vdi === 'OpaqueRef:NULL') continue;
      const uuid = String(await rpc(sim.url, 'VDI.get_uuid', [vm.session, vdi]));
      return String(((await simControl(sim, 'GET', `/vdis/${uuid}/sha256`)) as { sha256: string }).sha256);
    }
    throw new Error('no disk');
  }
} finally {
  await mount.unmount();
  await sim.stop();
  rmSync(work, { recursive: true, force: true });
}
