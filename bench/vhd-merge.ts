// Merging a delta into a big chain touches only the delta's blocks: a 1 GiB differencing VHD (512 blocks at
// random places, half of them new to the parent) merged into a 16 GiB full VHD, against a plain copy of the
// delta file (cp + fsync, the least any merge must do: read the delta once, write it once).
//   npx tsx bench/vhd-merge.ts [--parent 16G] [--delta 1G]
// Prints bytes read and written by the merge against the delta's size and the parent's, and the time ratio
// merge / copy.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../src-shared/units.js';
import { VhdFileWriter } from '../src-main/formats/vhd/vhd-file-writer.js';
import { DEFAULT_BLOCK_SIZE } from '../src-main/formats/vhd/vhd-structures.js';
import { FolderRemote } from '../src-main/remotes/folder-remote-store.js';
import { mergeVhdIntoParent } from '../src-main/repository/vhd-merge.js';

const { values } = parseArgs({
  options: { parent: { type: 'string', default: '16G' }, delta: { type: 'string', default: '1G' } },
});
const parentSize = parseSize(values.parent!)!;
const deltaSize = parseSize(values.delta!)!;
const MiB = 1024 * 1024;
const BLOCK = DEFAULT_BLOCK_SIZE;
const blocks = Math.ceil(parentSize / BLOCK);
const deltaBlocks = Math.ceil(deltaSize / BLOCK);

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'sluice-bench-merge-'));
const uuid = (n: number) => `6e2f3a4b-0000-4000-8000-${String(n).padStart(12, '0')}`;
try {
  // Deterministic pseudo-random picks: half the delta's blocks overwrite the parent's, half are new to it.
  let x = 0x9e3779b9;
  const rnd = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const parentHas = new Uint8Array(blocks);
  for (let i = 0; i < blocks; i++) parentHas[i] = i % 4 === 0 ? 0 : 1; // 75 % allocated
  const picked = new Set<number>();
  while (picked.size < deltaBlocks) {
    const i = rnd(blocks);
    if (picked.has(i)) continue;
    const wantNew = picked.size % 2 === 1;
    if ((parentHas[i] === 0) === wantNew) picked.add(i);
  }
  const data = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);

  const parentName = '20250101T000000Z.vhd';
  const childName = '20250102T000000Z.vhd';
  const t0 = performance.now();
  const pw = await VhdFileWriter.create(path.join(work, parentName), { currentSize: blocks * BLOCK, uuid: uuid(1) });
  for (let i = 0; i < blocks; i++) {
    if (!parentHas[i]) continue;
    data.writeUInt32BE(i, 0);
    await pw.writeBlock(i, data);
  }
  await pw.finish();
  const cw = await VhdFileWriter.create(path.join(work, childName), {
    currentSize: blocks * BLOCK,
    uuid: uuid(2),
    parent: { uuid: uuid(1), name: parentName },
  });
  for (const i of [...picked].sort((a, b) => a - b)) {
    data.writeUInt32BE((0x80000000 | i) >>> 0, 0);
    await cw.writeBlock(i, data);
  }
  await cw.finish();
  console.log(
    `set-up: parent ${(statSync(path.join(work, parentName)).size / MiB).toFixed(0)} MiB, delta ${(statSync(path.join(work, childName)).size / MiB).toFixed(0)} MiB (${deltaBlocks} blocks), written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Reference: a plain copy of the delta, made durable like the merge makes its writes durable.
  const deltaBytes = statSync(path.join(work, childName)).size;
  const c0 = performance.now();
  execFileSync('cp', [path.join(work, childName), path.join(work, 'copy.vhd')]);
  execFileSync('sync', [path.join(work, 'copy.vhd')]);
  const copyMs = performance.now() - c0;
  rmSync(path.join(work, 'copy.vhd'));

  const m0 = performance.now();
  const r = await mergeVhdIntoParent(new FolderRemote(work), '', parentName, childName);
  const mergeMs = performance.now() - m0;
  const parentBytes = statSync(r.path).size;
  console.log(
    [
      `merge of a ${(deltaBytes / MiB).toFixed(0)} MiB delta into a ${values.parent} chain`,
      `read ${(r.bytesRead / MiB).toFixed(1)} MiB (${(r.bytesRead / deltaBytes).toFixed(3)}x the delta)`,
      `written ${(r.bytesWritten / MiB).toFixed(1)} MiB (${(r.bytesWritten / deltaBytes).toFixed(3)}x the delta, ${((100 * r.bytesWritten) / parentBytes).toFixed(1)} % of the merged file)`,
      `merge ${(mergeMs / 1000).toFixed(2)} s vs copy of the delta ${(copyMs / 1000).toFixed(2)} s: ratio ${(mergeMs / copyMs).toFixed(2)}`,
    ].join('  |  '),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
