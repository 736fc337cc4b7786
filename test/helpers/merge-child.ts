// Test-only child process: deletes one backup point (so its VHDs merge into the next point's) and freezes the
// moment `stopAfter` blocks of a merge are written, before they are made durable, printing "frozen" so the
// test can SIGKILL it mid-merge. Usage: node --import tsx merge-child.ts ROOT VM_UUID POINT_ID STOP_AFTER
import { deleteBackupPoint } from '../../src-main/repository/point-deleter.js';
import { listVmPoints } from '../../src-main/repository/repository-reader.js';

const [root, vmUuid, pointId, stopAfter] = process.argv.slice(2) as [string, string, string, string];
const point = (await listVmPoints(root, vmUuid)).points.find((p) => p.id === pointId);
if (!point) throw new Error(`no point ${pointId}`);
await deleteBackupPoint(root, point, {
  batchBlocks: 1,
  onMergeProgress: (p) => {
    if (p.blocksDone < Number(stopAfter)) return;
    process.stdout.write(`frozen ${p.blocksDone}/${p.blocksTotal}\n`);
    // A synchronous stop: nothing after this line runs, as if the power went out here.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});
process.stdout.write('finished\n');
