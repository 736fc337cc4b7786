// Test-only child process: deletes one backup point (so its VHDs merge into the next point's, one block per
// durable step) and freezes at one moment of it, printing "frozen …" so the test can SIGKILL it there.
// Usage: node --import tsx merge-child.ts ROOT VM_UUID POINT_ID STOP
// STOP is a block count (frozen the moment that many blocks are written, before they are made durable: the
// product's progress callback) or a merge step of merge-steps.ts, `name[:n]` for its n-th occurrence (seen
// by watching the file operations the merge makes; the product has no callback there).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deleteBackupPoint } from '../../src-main/repository/point-deleter.js';
import { listVmPoints } from '../../src-main/repository/repository-reader.js';
import { MERGE_STEPS, type FsCall, type MergeStepName } from './merge-steps.js';

const [root, vmUuid, pointId, stop] = process.argv.slice(2) as [string, string, string, string];

/** A synchronous stop: nothing after this line runs, as if the power went out here. */
function freeze(where: string): never {
  process.stdout.write(`frozen ${where}\n`);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

const [stepName, nth] = stop.split(':') as [string, string | undefined];
const step = MERGE_STEPS[stepName as MergeStepName];
if (step) {
  // A point of VHD directories is named by its aliases (`<id>.alias.vhd`).
  const parent = process.env['SLUICE_MERGE_ALIAS'] ? `${pointId}.alias.vhd` : `${pointId}.vhd`;
  let seen = 0;
  const watched = fs[step.op] as (...args: unknown[]) => Promise<unknown>;
  const patched = async (...args: unknown[]) => {
    const call: FsCall = { args: args.map(String), parent, base: (i) => path.basename(String(args[i])) };
    const hit = step.matches(call) && ++seen === Number(nth ?? 1);
    if (hit && step.when === 'before') freeze(stop);
    const r = await watched(...args);
    if (hit) freeze(stop);
    return r;
  };
  // Every module of the product calls these through the one `promises` object, at call time.
  (fs as unknown as Record<string, unknown>)[step.op] = patched;
} else if (!/^\d+$/.test(stop)) throw new Error(`no merge step ${stop}`);

const point = (await listVmPoints(root, vmUuid)).points.find((p) => p.id === pointId);
if (!point) throw new Error(`no point ${pointId}`);
await deleteBackupPoint(root, point, {
  batchBlocks: 1,
  onMergeProgress: (p) => {
    if (!step && p.blocksDone >= Number(stop)) freeze(`${p.blocksDone}/${p.blocksTotal}`);
  },
});
process.stdout.write('finished\n');
