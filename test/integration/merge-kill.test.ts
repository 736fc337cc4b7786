import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VhdFileReader } from '../../src-main/formats/vhd/vhd-file-reader.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import {
  checkJson,
  deltaPoints,
  expectPointsRestorable,
  firstDisk,
  problemKinds,
  type DeltaVm,
} from '../helpers/delta-points.js';
import { killMergeAt } from '../helpers/merge-kill.js';
import { MERGE_STEPS, type MergeStepName } from '../helpers/merge-steps.js';
import { seededRandom, seedFrom } from '../helpers/seeded-random.js';
import { connect, MiB } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';
import { pointChain } from '../helpers/vhd-chains.js';

// Issue 13: kill -9 at points of a retention merge, one per phase of it, the exact point drawn from a seeded
// PRNG (SLUICE_KILL_SEED replays another draw). After each kill every point left restores as backed up,
// `check` names what is unfinished, `check --repair` finishes it, and nothing is lost or left behind.

const SEED = seedFrom('SLUICE_KILL_SEED', 1307);
const JOB = 'job-merge-kill';

const oneOf = <T>(rand: () => number, items: T[]): T => items[Math.floor(rand() * items.length)]!;

/** Where to stop the merge (merge-child.ts's STOP), given the number of blocks it merges. */
type Draw = (blocks: number, rand: () => number) => string;

const phases: Array<[string, Draw]> = [
  ['before the first block', (_n, r) => oneOf(r, ['metadata-removed', 'digests-set-aside', 'state-written:1'])],
  // A block count: frozen with that block written, before the footer and BAT make it durable.
  ['mid-append', (n, r) => String(1 + Math.floor(r() * Math.max(1, n - 1)))],
  // State writes: 1 before the first block, then one per block (2…n+1), then n+2 (step cleanupVhds).
  ['after a state file write', (n, r) => `state-written:${2 + Math.floor(r() * (n + 1))}`],
  ['after the new footer', () => 'footer-written'],
  ['after the rename of parent to child', () => 'renamed'],
  [
    "during the removal of the merged point's files",
    (_n, r) => oneOf(r, ['child-digests-removed', 'digests-moved', 'aside-removed', 'state-removed']),
  ],
];

let sim: SimHandle;
let xapi: XapiSession;
let vm: DeltaVm;
const { temp, cleanupAll } = tempDirs();
/** Three delta points, copied for each kill; the oldest is the one deleted, merging into the second. */
let base: string;
let truth: Map<string, string>;
let blocks: number;

beforeAll(async () => {
  sim = await startSimulator({
    vms: [
      { name: 'files', powerState: 'Halted', disks: [{ name: 'files system', size: 48 * MiB, allocated: 8 * MiB }] },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
  vm = { sim, xapi, vm: 'files', jobId: JOB, temp };
  base = temp();
  truth = await deltaPoints(vm, base, 3, 10);
  const child = await VhdFileReader.open(path.join(vdiDir(base), `${[...truth.keys()][1]}.vhd`));
  blocks = [...Array(child.blockCount).keys()].filter((i) => child.hasBlock(i)).length;
  await child.close();
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

const vmUuid = () => sim.control.vmUuidByName('files');
const vmDir = (remote: string) => path.join(remote, 'xo-vm-backups', vmUuid());
const vdiDir = (remote: string) => path.join(vmDir(remote), 'vdis', JOB, firstDisk(vm));
const ls = (dir: string) => readdirSync(dir).sort();

describe(`retention merges killed with SIGKILL (seed ${SEED}; SLUICE_KILL_SEED draws others)`, () => {
  it.each(phases.map(([name, draw], i) => [name, draw, i] as const))(
    'killed %s: every point restores, check names the merge, --repair finishes it, nothing is lost or left',
    async (_name, draw, i) => {
      const stop = draw(blocks, seededRandom(SEED + i));
      try {
        await killedAt(stop);
      } catch (err) {
        // The draw, so that the failure can be replayed (SLUICE_KILL_SEED) and looked at.
        if (err instanceof Error) err.message = `[seed ${SEED}, killed at ${stop} of ${blocks} blocks] ${err.message}`;
        throw err;
      }
    },
  );
});

async function killedAt(stop: string): Promise<void> {
  const remote = temp();
  cpSync(base, remote, { recursive: true });
  const [oldest, second] = [...truth.keys()];
  const frozen = await killMergeAt(remote, vmUuid(), oldest!, stop);
  expect(frozen).toMatch(/^frozen /);

  // The point is gone from the moment its metadata is; every other one reads as it was backed up.
  const left = new Map([...truth].filter(([id]) => id !== oldest));
  expect((await listBackupPoints(remote)).points.map((p) => p.id)).toEqual([...left.keys()]);
  await expectPointsRestorable(remote, left, firstDisk(vm));

  const expected = /^\d+$/.test(stop)
    ? ['unfinished-merge']
    : MERGE_STEPS[stop.split(':')[0] as MergeStepName].expected;
  const check = await runCli(['check', '--remote', remote, '--json']);
  expect(problemKinds(check.stdout)).toEqual(expected);
  expect(check.code).toBe(expected.length > 0 ? 1 : 0);
  for (const p of checkJson(check.stdout).filter((e) => e.type === 'problem'))
    expect(p).toMatchObject({ fixable: true, repaired: false });

  const repair = await runCli(['check', '--remote', remote, '--repair', '--json']);
  expect(repair.stderr).toBe('');
  expect(repair.code).toBe(0);
  expect(checkJson(repair.stdout).find((e) => e.type === 'summary')).toMatchObject({ remaining: 0 });
  const again = await runCli(['check', '--remote', remote, '--json']);
  expect(problemKinds(again.stdout)).toEqual([]);
  expect(again.code).toBe(0);

  // Nothing left behind: each point's metadata, VHD and block digests, and no temporary or state file.
  const ids = [...left.keys()];
  expect(ls(vdiDir(remote))).toEqual(ids.flatMap((id) => [`${id}.vhd`, `${id}.vhd.checksum.json`]));
  expect(ls(vmDir(remote)).filter((n) => n !== 'vdis')).toEqual(ids.map((id) => `${id}.json`));
  await expectPointsRestorable(remote, left, firstDisk(vm));
  const points = (await listBackupPoints(remote)).points;
  expect(await pointChain(points[0]!, firstDisk(vm))).toEqual([path.join(vdiDir(remote), `${second}.vhd`)]);
  // The merged file carries block digests that match it: verify checks every block, not the structure only.
  for (const p of points) expect((await verifyPoint(p)).structureOnly).toEqual([]);
}
