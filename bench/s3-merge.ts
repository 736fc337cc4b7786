// A retention merge on S3 moves only the delta: a --gib GiB disk (mostly sparse: --allocated of it holds
// data) backed up incrementally to a real Ceph RADOS Gateway as XO's VHD directories, then a delta with about
// --delta-gib GiB of the guest's data changed, then retention 1, so the full point is deleted by merging the
// delta's blocks into it (src-main/repository/vhd-directory-merge.ts).
//   npx tsx bench/s3-merge.ts [--gib 16] [--delta-gib 1] [--allocated 0.125]   (npm run bench:s3-merge)
//
// How the bytes are counted: the two backups run as an admin runs them (`sluice backup --mode delta`, each its
// own process); the retention then runs in this process through the same function the backup's retention
// phase calls (applyRetention, under the VM folder's lock), on an S3 remote whose S3 client carries a
// counting middleware: every request the merge sends, its body bytes (PutObject, UploadPart) and its
// response's body bytes (GetObject; HEAD answers carry none), per command. What the merge moved is set
// against the delta's bytes as stored: the sizes of the objects of the delta's VHD directory, listed on the
// gateway after the delta's backup. Target: written <= 1.1x the delta (bat, footer, alias and the merge state
// are the rest). Reads are printed too: a delta block that marks only some sectors is laid over the parent's
// block, which must then be read (and the merged block is bigger than the delta's).
// Then `sluice verify` reads the merged chain back.
//
// As in the other benchmarks, the simulated host runs on CPU 0 and sluice on CPU 1.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildCli } from '../scripts/build-cli.mjs';
import { openRemote } from '../src-main/remotes/remote-registry.js';
import type { S3Remote } from '../src-main/remotes/s3-remote.js';
import { applyRetention } from '../src-main/repository/index.js';
import { listVmPoints } from '../src-main/repository/repository-reader.js';
import { lockVmFolder } from '../src-main/repository/vm-folder-lock.js';
import { startCephGateway } from './lib/ceph-gateway.js';
import { firstVm } from './lib/rpc.js';
import { simControl, startSimProcess, type SimProcess } from './lib/sim-process.js';
import { hostArgs, writePasswordFile } from '../test/helpers/cli-args.js';
import { jsonEvents, runSluiceOnCpu1 } from './lib/sluice-cli.js';

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '16' },
    'delta-gib': { type: 'string', default: '1' },
    allocated: { type: 'string', default: '0.125' },
  },
});
const gib = Number(values.gib);
const deltaGib = Number(values['delta-gib']);
const allocated = Number(values.allocated);
if (!(gib > 0 && deltaGib > 0 && deltaGib <= gib && allocated >= 0 && allocated <= 1))
  throw new Error('--gib and --delta-gib need positive GiB (the delta at most the disk), --allocated a fraction');
const MiB = 1024 * 1024;
const PREFIX = 'merge';

await buildCli();

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'sluice-bench-s3-merge-'));
// The full's data, the delta, and the merged blocks written beside them (the delta's are deleted only at the end).
const gw = await startCephGateway({ blockGiB: Math.max(20, Math.ceil(gib * allocated + 3 * deltaGib + 8)) });
let sim: SimProcess | undefined;
try {
  sim = await startSimProcess(
    [
      ...['--vms', '1', '--disk-size', `${Math.round(gib * 1024)}M`, '--allocated', String(allocated)],
      ...['--login-failure-delay', '100'],
    ],
    { cpu: 0 },
  );
  const bucket = await gw.bucket();
  const location = gw.location(bucket, PREFIX);
  const vm = await firstVm(sim.url, sim.username, sim.password);
  const pw = writePasswordFile(work, sim.password);
  const host = sim;
  const backup = async () => {
    const r = await runSluiceOnCpu1(
      [
        'backup',
        ...hostArgs(host, pw),
        ...['--vm', vm.name, '--remote', location, '--mode', 'delta'],
        ...['--data-dir', path.join(work, 'data'), '--spool-dir', work, '--json'],
      ],
      gw.env(),
    );
    if (r.code !== 0) throw new Error(`sluice failed: ${r.stderr}\n${r.stdout.slice(-2000)}`);
    const result = jsonEvents(r.stdout).find((e) => e.type === 'result')!;
    return { wallMs: r.wallMs, bytes: result.bytes as number, peakRss: r.peakRssBytes };
  };

  const full = await backup();
  const afterFull = await objects(gw.client, bucket);
  // The guest rewrites 64 KiB clusters at random places: this share of them is --delta-gib of data.
  const changed = (await simControl(host, 'POST', `/vms/${vm.uuid}/guest-write`, {
    fraction: deltaGib / gib,
    seed: 7,
  })) as { vdis: Array<{ clustersChanged: number }> };
  const delta = await backup();
  const afterDelta = await objects(gw.client, bucket);
  // The delta's VHD directory: the objects under data/<uuid>.vhd/ that its backup added.
  const deltaObjects = [...afterDelta].filter(([k]) => !afterFull.has(k) && /\/data\/[^/]+\.vhd\//.test(k));
  const deltaBytes = deltaObjects.reduce((n, [, size]) => n + size, 0);
  const deltaBlocks = deltaObjects.filter(([k]) => /\/blocks\//.test(k));
  const deltaBlockBytes = deltaBlocks.reduce((n, [, size]) => n + size, 0);
  // A delta block over one the full holds, when it marks only some sectors, is laid over it (the full's block
  // read, the merged one written whole); a block the host exported whole replaces the full's as stored.
  const blockName = (k: string) => /\.vhd\/(blocks\/.+)$/.exec(k)?.[1];
  const fullBlocks = new Map([...afterFull].filter(([k]) => blockName(k)).map(([k, size]) => [blockName(k)!, size]));
  const overlapping = deltaBlocks.filter(([k]) => fullBlocks.has(blockName(k)!));
  const overlappedBytes = overlapping.reduce((n, [k]) => n + fullBlocks.get(blockName(k)!)!, 0);

  const remote = openRemote(location, {
    credentials: { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey },
  });
  const counter = countRequests((remote.inner as S3Remote).client);
  const points = (await listVmPoints(remote, vm.uuid)).points;
  if (points.length !== 2) throw new Error(`expected 2 points, found ${points.length}`);
  const release = await lockVmFolder(remote, vm.uuid, 'bench merge');
  counter.reset(); // taking the lock is not the merge (its lease refreshes meanwhile, a few hundred bytes, count)
  const m0 = performance.now();
  const outcome = await applyRetention(remote, vm.uuid, { jobId: points[0]!.jobId, mode: 'delta' }, { keep: 1 });
  const mergeMs = performance.now() - m0;
  const moved = counter.snapshot();
  await release();
  if (outcome.deleted.length !== 1) throw new Error(`retention deleted ${outcome.deleted.length} points, not 1`);

  const verify = await runSluiceOnCpu1(['verify', '--remote', location], gw.env());
  const afterMerge = await objects(gw.client, bucket);
  const aliases = [...afterMerge.keys()].filter((k) => k.endsWith('.alias.vhd'));

  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  console.log(
    [
      `merge on Ceph RGW: a ${gib} GiB disk (${allocated} allocated), ${changed.vdis[0]?.clustersChanged ?? 0} clusters of 64 KiB rewritten (${mib((changed.vdis[0]?.clustersChanged ?? 0) * 65536)})`,
      `full backup ${mib(full.bytes)} in ${(full.wallMs / 1000).toFixed(1)} s (peak RSS ${(full.peakRss / MiB).toFixed(0)} MiB); delta backup ${mib(delta.bytes)} in ${(delta.wallMs / 1000).toFixed(1)} s`,
      `the delta as stored: ${mib(deltaBytes)} in ${deltaObjects.length} objects (${deltaBlocks.length} blocks: ${mib(deltaBlockBytes)}); ${overlapping.length} of its blocks over ${fullBlocks.size} of the full's (${mib(overlappedBytes)} of the full's there)`,
      `merge ${(mergeMs / 1000).toFixed(1)} s, ${moved.requests} requests (${Object.entries(moved.byCommand)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')})`,
      `written ${mib(moved.up)} = ${(moved.up / deltaBytes).toFixed(3)}x the delta (target <= 1.1)`,
      `read ${mib(moved.down)} = ${(moved.down / deltaBytes).toFixed(3)}x the delta`,
      `after: ${aliases.length} alias(es), verify ${verify.code === 0 ? 'ok' : `FAILED: ${verify.stderr || verify.stdout}`}`,
    ].join('\n  '),
  );
  if (verify.code !== 0) process.exitCode = 1;
} finally {
  await sim?.stop();
  await gw.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Every object of a bucket, key → size. */
async function objects(client: S3Client, bucket: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

interface Tally {
  requests: number;
  /** Request body bytes (uploads). */
  up: number;
  /** Response body bytes (downloads, listings). */
  down: number;
  byCommand: Record<string, number>;
}

/**
 * Counts what goes over the wire through an S3 client, at the last step before sending (after signing): the
 * request's Content-Length, and the response's (except for HEAD, whose Content-Length is the object's, not a
 * body). A request that fails (a 404 of a lookup) counts what it sent.
 */
function countRequests(client: S3Client): { reset(): void; snapshot(): Tally } {
  let t: Tally = { requests: 0, up: 0, down: 0, byCommand: {} };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { method?: string; headers?: Record<string, string> };
      t.requests++;
      t.byCommand[context.commandName ?? '?'] = (t.byCommand[context.commandName ?? '?'] ?? 0) + 1;
      t.up += Number(req.headers?.['content-length'] ?? 0);
      const out = await next(args);
      const res = out.response as { headers?: Record<string, string> };
      if (req.method !== 'HEAD') t.down += Number(res.headers?.['content-length'] ?? 0);
      return out;
    },
    { step: 'finalizeRequest', name: 'benchByteCounter', priority: 'low' },
  );
  return {
    reset: () => (t = { requests: 0, up: 0, down: 0, byCommand: {} }),
    snapshot: () => ({ ...t, byCommand: { ...t.byCommand } }),
  };
}
