// Throughput and memory of a full backup to a real S3 server (Ceph's RADOS Gateway, test/servers/ceph-s3.sh)
// against a reference uploader (rclone, from Debian) of the same bytes to the same bucket, in one run.
//   npx tsx bench/s3-full-backup.ts [--gib 4] [--reference-first]   (npm run bench:s3 -- --gib 1: a quick run)
// Runs, one after the other (2 before 1 with --reference-first), each into its own prefix of one bucket:
//   1. sluice: `sluice backup --mode full --remote s3://…` of a --gib GiB fully allocated VM of the simulator;
//   2. reference "stream": the same export of the simulator (`curl … /export`) piped into `rclone rcat`: the same
//      path as sluice's, host → client → gateway, with nothing in between;
//   3. reference "file": the XVA sluice stored, downloaded once to a local file (in the page cache), uploaded by
//      `rclone copyto`: the uploader alone, no host in the way (an upper bound).
// Prints each one's MiB/s, sluice's ratio against each (target >= 0.9 against the stream reference, which reads
// the same host as sluice does), and sluice's peak RSS (target <= 200 MiB).
//
// As in backup-throughput.ts, the simulated host runs pinned to CPU 0 and every client (sluice, curl + rclone,
// rclone) to CPU 1; the gateway's daemons are not pinned (on a 2-core box they share both cores with the rest,
// alike for every client). rclone runs with its defaults (5 MiB parts, 4 in flight); sluice with its own (8 MiB
// parts, 2 in flight, a SHA-256 of the XVA for its .checksum file).
import { HeadObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { buildCli } from '../scripts/build-cli.mjs';
import { startCephGateway } from './lib/ceph-gateway.js';
import { runMeasured, type RunResult } from './lib/process-probe.js';
import { firstVm } from './lib/rpc.js';
import { startSimProcess, type SimProcess } from './lib/sim-process.js';
import { hostArgs, writePasswordFile } from '../test/helpers/cli-args.js';
import { jsonEvents, runSluiceOnCpu1 } from './lib/sluice-cli.js';

const { values } = parseArgs({
  options: { gib: { type: 'string', default: '4' }, 'reference-first': { type: 'boolean', default: false } },
});
const gib = Number(values.gib);
if (!(gib > 0)) throw new Error(`--gib needs a positive number of GiB, not "${values.gib}"`);
const MiB = 1024 * 1024;
const diskMiB = Math.round(gib * 1024);

await buildCli(); // now, not inside the measured run

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'sluice-bench-s3-'));
// Three copies of the XVA land in the bucket; bluestore's sparse file uses disk only for what is written.
const gw = await startCephGateway({ blockGiB: Math.max(20, Math.ceil(3 * gib + 8)) });
let sim: SimProcess | undefined;
try {
  sim = await startSimProcess(
    ['--vms', '1', '--disk-size', `${diskMiB}M`, '--allocated', '1', '--login-failure-delay', '100'],
    { cpu: 0 },
  );
  const bucket = await gw.bucket();
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const pw = writePasswordFile(work, sim.password);
  const host = sim;

  // rclone reads its remote "bench:" from the environment: no config file.
  const rcloneEnv = {
    RCLONE_CONFIG: path.join(work, 'rclone.conf'),
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_BENCH_ENDPOINT: gw.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: gw.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: gw.secretAccessKey,
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
    // rclone's AWS SDK refuses a custom CA bundle on its own HTTP transport; the gateway is plain HTTP anyway.
    AWS_CA_BUNDLE: undefined,
  };
  const exportUrl = `${sim.url}/export?ref=${encodeURIComponent(vm.ref)}&session_id=${encodeURIComponent(vm.session)}&use_compression=false`;
  const runSluice = () =>
    runSluiceOnCpu1(
      [
        'backup',
        ...hostArgs(host, pw),
        ...['--vm', vm.name, '--remote', gw.location(bucket, 'sluice'), '--mode', 'full'],
        ...['--data-dir', path.join(work, 'data'), '--spool-dir', work, '--json'],
      ],
      gw.env(),
    );
  const runStream = () =>
    runMeasured(
      'taskset',
      [
        ...['-c', '1', 'bash', '-o', 'pipefail', '-c', 'curl -sS -k "$1" | rclone rcat "$2"', 'bench'],
        ...[exportUrl, `bench:${bucket}/stream/export.xva`],
      ],
      { env: rcloneEnv },
    );
  // Each order favours whoever runs on the emptier store or the quieter minute: --reference-first swaps them.
  let stream: RunResult | undefined;
  if (values['reference-first']) stream = await runStream();
  const sluice = await runSluice();
  if (sluice.code !== 0) throw new Error(`sluice failed: ${sluice.stderr}\n${sluice.stdout.slice(-2000)}`);
  const result = jsonEvents(sluice.stdout).find((e) => e.type === 'result')!;
  const xvaKey = `sluice/xo-vm-backups/${String(result.vmUuid)}/${String(result.point)}.xva`;
  const sluiceBytes = await objectSize(bucket, xvaKey);
  stream ??= await runStream();
  if (stream.code !== 0) throw new Error(`curl | rclone rcat failed: ${stream.stderr}`);
  const streamBytes = await objectSize(bucket, 'stream/export.xva');

  const local = path.join(work, 'sluice.xva');
  const got = await gw.client.send(new GetObjectCommand({ Bucket: bucket, Key: xvaKey }));
  await pipeline(got.Body as Readable, createWriteStream(local));
  const file = await runMeasured('taskset', ['-c', '1', 'rclone', 'copyto', local, `bench:${bucket}/file/sluice.xva`], {
    env: rcloneEnv,
  });
  if (file.code !== 0) throw new Error(`rclone copyto failed: ${file.stderr}`);
  const fileBytes = await objectSize(bucket, 'file/sluice.xva');
  if (fileBytes !== sluiceBytes) throw new Error(`rclone stored ${fileBytes} bytes of sluice's ${sluiceBytes}`);

  const rate = (bytes: number, r: RunResult) => bytes / MiB / (r.wallMs / 1000);
  const line = (name: string, bytes: number, r: RunResult) =>
    `${name} ${(bytes / MiB).toFixed(0)} MiB in ${(r.wallMs / 1000).toFixed(1)} s = ${rate(bytes, r).toFixed(1)} MiB/s` +
    ` (CPU ${((r.cpuUserMs + r.cpuSysMs) / 1000).toFixed(1)} s, peak RSS ${(r.peakRssBytes / MiB).toFixed(0)} MiB)`;
  console.log(
    [
      `full backup of a ${gib} GiB disk to Ceph RGW`,
      line('sluice', sluiceBytes, sluice),
      line('reference curl | rclone rcat', streamBytes, stream),
      line('reference rclone copyto (local file)', fileBytes, file),
      `ratio sluice/stream ${(rate(sluiceBytes, sluice) / rate(streamBytes, stream)).toFixed(3)} (target >= 0.9)`,
      `ratio sluice/file ${(rate(sluiceBytes, sluice) / rate(fileBytes, file)).toFixed(3)}`,
      `sluice peak RSS ${(sluice.peakRssBytes / MiB).toFixed(0)} MiB (target <= 200)`,
      `waited for host ${String(result.waitedForHostMs)} ms, for destination ${String(result.waitedForDestinationMs)} ms`,
    ].join('\n  '),
  );
} finally {
  await sim?.stop();
  await gw.stop();
  rmSync(work, { recursive: true, force: true });
}

async function objectSize(bucket: string, key: string): Promise<number> {
  const head = await gw.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return head.ContentLength ?? 0;
}
