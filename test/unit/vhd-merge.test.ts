import { createHash } from 'node:crypto';
import { copyFile, open, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { digestsFileText, digestsPathOf, VhdDigestCollector } from '../../src-main/formats/vhd/vhd-block-digests.js';
import { VhdFileReader } from '../../src-main/formats/vhd/vhd-file-reader.js';
import { VhdFileWriter } from '../../src-main/formats/vhd/vhd-file-writer.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { bitmapSize, DEFAULT_BLOCK_SIZE } from '../../src-main/formats/vhd/vhd-structures.js';
import { parentDigestsAsideKey as parentDigestsAsidePath } from '../../src-main/repository/merge-digests.js';
import { mergeStateKey, readMergeState, type MergeState } from '../../src-main/repository/merge-state.js';
import { resolveChain, scanVhdFolder } from '../../src-main/repository/vhd-folder-scan.js';
import * as vhdMerge from '../../src-main/repository/vhd-merge.js';
import { tempDirs } from '../helpers/temp-dir.js';
import { chainDigest, digestsOf as loadDigests, hasQemu, qemuDigest } from '../helpers/vhd-chains.js';

// The merge works on a remote's folder; these tests give it a local one and name files by path.
const mergeVhdIntoParent = (dir: string, parent: string, child: string, opts?: vhdMerge.VhdMergeOptions) =>
  vhdMerge.mergeVhdIntoParent(new FolderRemote(dir), '', parent, child, opts);
const resumeVhdMerge = (dir: string, stateName: string) =>
  vhdMerge.resumeVhdMerge(new FolderRemote(dir), '', stateName);
const mergeStatePath = (dir: string, parentName: string) => path.join(dir, mergeStateKey('', parentName));
const readMergeStateAt = (dir: string, parentName: string): Promise<MergeState | undefined> =>
  readMergeState(new FolderRemote(dir), mergeStateKey('', parentName));

const BLOCK = DEFAULT_BLOCK_SIZE;
const SIZE = 7 * BLOCK + 3 * 512; // a tail block that is not whole
const uuid = (n: number) => `5d1e2f3a-0000-4000-8000-${String(n).padStart(12, '0')}`;
const { temp, cleanupAll } = tempDirs();
afterAll(cleanupAll);

function pattern(seed: number, length = BLOCK): Buffer {
  const b = Buffer.alloc(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** A bitmap marking sectors [from, to) of a block. */
function bitmapOf(from: number, to: number): Buffer {
  const bm = Buffer.alloc(bitmapSize(BLOCK));
  for (let s = from; s < to; s++) bm[s >> 3]! |= 0x80 >> (s & 7);
  return bm;
}

interface BlockSpec {
  index: number;
  seed: number;
  sectors?: [number, number];
}

async function makeVhd(
  file: string,
  id: number,
  blocks: BlockSpec[],
  parent?: { id: number; name: string },
  digests = true,
): Promise<void> {
  const w = await VhdFileWriter.create(file, {
    currentSize: SIZE,
    uuid: uuid(id),
    ...(parent ? { parent: { uuid: uuid(parent.id), name: parent.name } } : {}),
  });
  for (const b of blocks) {
    const data = pattern(b.seed);
    if (b.sectors) {
      // Unmarked sectors hold junk on purpose: a merge must never let it through.
      await w.writeBlock(b.index, data, bitmapOf(b.sectors[0], b.sectors[1]));
    } else await w.writeBlock(b.index, data);
  }
  await w.finish();
  if (!digests) return;
  // The block digests a backup records beside the file (vhd-block-digests.ts), taken from the bytes on disk.
  const collector = await VhdDigestCollector.create(BLOCK, Math.ceil(SIZE / BLOCK));
  const r = await VhdFileReader.open(file);
  for (let i = 0; i < r.blockCount; i++) {
    const stored = await r.readBlock(i);
    if (stored) collector.addBlock(i, stored.bitmap, stored.data);
  }
  await r.close();
  await writeFile(digestsPathOf(file), await digestsFileText(await VhdFileReader.open(file), collector, w.metadata()));
}

/** The digests beside `file` are current and match every byte they cover: metadata and each stored block. */
async function expectDigestsDescribe(file: string): Promise<{ blocks: string; metadata: string }> {
  const state = await loadDigests(file);
  expect(state.kind, file).toBe('current');
  if (state.kind !== 'current') throw new Error('unreachable');
  const r = await VhdFileReader.open(file);
  try {
    expect(
      state.digests.metadataMatches((await readFile(file)).subarray(0, state.digests.file.metadataBytes)),
      `${file} metadata`,
    ).toBe(true);
    for (let i = 0; i < r.blockCount; i++) {
      const stored = await r.readBlock(i);
      if (stored) expect(state.digests.blockMatches(i, stored.bitmap, stored.data), `${file} block ${i}`).toBe(true);
    }
  } finally {
    await r.close();
  }
  return { blocks: state.digests.file.blocks, metadata: state.digests.file.metadata };
}

/** No digests file in `dir` claims anything its VHD does not hold: each is absent or current and right. */
async function expectNoWrongDigests(dir: string): Promise<void> {
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.vhd'))) {
    const state = await loadDigests(path.join(dir, name));
    expect(['absent', 'current'], `${name}: ${state.kind}`).toContain(state.kind);
    if (state.kind === 'current') await expectDigestsDescribe(path.join(dir, name));
  }
}

const withDigests = (...names: string[]) => names.flatMap((n) => [n, `${n}.checksum.json`]).sort();

async function fileDigest(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** root (dynamic) ← a.vhd (differencing) ← b.vhd (differencing), with full and partial blocks at every level. */
async function threeLevelChain(dir: string): Promise<{ root: string; a: string; b: string }> {
  const root = path.join(dir, '20250101T000000Z.vhd');
  const a = path.join(dir, '20250102T000000Z.vhd');
  const b = path.join(dir, '20250103T000000Z.vhd');
  await makeVhd(root, 1, [
    { index: 0, seed: 1 },
    { index: 1, seed: 2 },
    { index: 3, seed: 3 },
    { index: 5, seed: 4 },
    { index: 7, seed: 5 },
  ]);
  await makeVhd(
    a,
    2,
    [
      { index: 1, seed: 11 },
      { index: 3, seed: 12, sectors: [0, 2048] },
      { index: 4, seed: 13, sectors: [100, 300] },
    ],
    { id: 1, name: path.basename(root) },
  );
  await makeVhd(
    b,
    3,
    [
      { index: 1, seed: 21, sectors: [7, 9] },
      { index: 2, seed: 22 },
      { index: 3, seed: 23, sectors: [1000, 4096] },
      { index: 4, seed: 24, sectors: [200, 400] },
      { index: 6, seed: 25 },
      { index: 7, seed: 26 },
    ],
    { id: 2, name: path.basename(a) },
  );
  return { root, a, b };
}

describe('merging a child VHD into its parent', () => {
  it('merges only the child blocks, honours sector bitmaps, and renames the parent to the child: the chain reads the same', async () => {
    const dir = temp();
    const { root, a, b } = await threeLevelChain(dir);
    const before = await chainDigest([root, a, b]);
    const progress: number[] = [];

    // A differencing parent: a.vhd absorbs b.vhd; unmarked sectors still fall through to the root.
    const r = await mergeVhdIntoParent(dir, path.basename(a), path.basename(b), {
      onProgress: (p) => progress.push(p.blocksDone),
    });
    expect(r.path).toBe(b);
    expect(r.blocksTotal).toBe(6);
    expect(progress.at(-1)).toBe(6);
    expect(r.bytesRead).toBeLessThanOrEqual(6 * (BLOCK + 512) + 3 * (BLOCK + 512)); // child blocks + partial parent blocks
    expect(r.bytesWritten).toBeLessThan(7 * (BLOCK + 512));
    expect((await readdir(dir)).sort()).toEqual(withDigests(path.basename(root), path.basename(b)));
    expect(await chainDigest([root, b])).toBe(before);
    // The merged file has digests for every block: the parent's it kept (0, 5), the ones the merge wrote.
    await expectDigestsDescribe(b);
    const merged = await VhdFileReader.open(b);
    expect(merged.footer.uuid).toBe(uuid(3));
    expect(merged.header.parentUuid).toBe(uuid(1));
    await merged.close();

    // A dynamic parent: the root absorbs the rest; the result is a full VHD qemu-img reads as the same disk.
    await mergeVhdIntoParent(dir, path.basename(root), path.basename(b));
    expect((await readdir(dir)).sort()).toEqual(withDigests(path.basename(b)));
    await expectDigestsDescribe(b);
    expect(await chainDigest([b])).toBe(before);
    if (hasQemu) expect(await qemuDigest(b, temp())).toBe(before);
  });

  it('resumes after a stop at any batch, or a crash that cut an append short, to the same bytes', async () => {
    const dir = temp();
    const { root, a, b } = await threeLevelChain(dir);
    const before = await chainDigest([root, a, b]);
    const stop = new Error('stopped for the test');
    await expect(
      mergeVhdIntoParent(dir, path.basename(a), path.basename(b), {
        batchBlocks: 2,
        afterBatch: (p) => {
          if (p.blocksDone >= 2) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    const state = await readMergeStateAt(dir, path.basename(a));
    expect(state).toMatchObject({ step: 'mergeBlocks', chain: [path.basename(a), path.basename(b)], currentBlock: 3 });
    // Mid-merge, every remaining point reads as before, and no digests file claims what its VHD does not hold
    // (the parent's wait aside for the resume).
    expect(await chainDigest([root, a, b])).toBe(before);
    await expectNoWrongDigests(dir);
    expect(await readdir(dir)).toContain(path.basename(parentDigestsAsidePath(a)));
    // The next batch's first append overwrote the trailing footer, then the power went out.
    const h = await open(a, 'r+');
    const { size } = await h.stat();
    await h.write(pattern(99, 3 * 512), 0, 3 * 512, size - 512);
    await h.close();

    const r = await resumeVhdMerge(dir, `.${path.basename(a)}.merge.json`);
    expect(r.resumed).toBe(true);
    expect(r.blocksDone).toBe(6);
    expect(await chainDigest([root, b])).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(withDigests(path.basename(root), path.basename(b)));
    await expectDigestsDescribe(b);
  });

  it('a merge stopped after any batch and resumed leaves the same digests as one that ran through', async () => {
    const straight = temp();
    const ref = await threeLevelChain(straight);
    await mergeVhdIntoParent(straight, path.basename(ref.a), path.basename(ref.b), { batchBlocks: 1 });
    // Block digests only: the metadata digest covers footers with creation times, which differ between chains.
    const expected = (await expectDigestsDescribe(ref.b)).blocks;
    for (let stopAt = 1; stopAt <= 6; stopAt++) {
      const dir = temp();
      const { root, a, b } = await threeLevelChain(dir);
      const stop = new Error(`stopped after batch ${stopAt}`);
      await expect(
        mergeVhdIntoParent(dir, path.basename(a), path.basename(b), {
          batchBlocks: 1,
          afterBatch: (p) => {
            if (p.blocksDone === stopAt) throw stop;
          },
        }),
      ).rejects.toBe(stop);
      await expectNoWrongDigests(dir);
      const r = await resumeVhdMerge(dir, `.${path.basename(a)}.merge.json`);
      expect(r.resumed).toBe(true);
      expect((await readdir(dir)).sort(), `stop at ${stopAt}`).toEqual(
        withDigests(path.basename(root), path.basename(b)),
      );
      expect((await expectDigestsDescribe(b)).blocks, `stop at ${stopAt}`).toEqual(expected);
      // A resume reads back only what earlier runs merged, never the parent's other blocks.
      expect(r.bytesRead, `stop at ${stopAt}`).toBeLessThanOrEqual(
        6 * (BLOCK + 512) + 3 * (BLOCK + 512) + stopAt * (BLOCK + 512),
      );
    }
  });

  it('a merged file whose parent had no digests says so in its digests file; a child block that fails its digest stops the merge', async () => {
    const dir = temp();
    const root = path.join(dir, '20250101T000000Z.vhd');
    const a = path.join(dir, '20250102T000000Z.vhd');
    await makeVhd(root, 1, [{ index: 0, seed: 1 }], undefined, false);
    await makeVhd(
      a,
      2,
      [
        { index: 0, seed: 2, sectors: [0, 8] },
        { index: 2, seed: 3 },
      ],
      { id: 1, name: path.basename(root) },
    );
    await mergeVhdIntoParent(dir, path.basename(root), path.basename(a));
    expect((await readdir(dir)).sort()).toEqual(withDigests(path.basename(a)));
    expect(await loadDigests(a)).toEqual({
      kind: 'absent',
      reason: expect.stringMatching(/20250101T000000Z\.vhd had no checksums/),
    });

    const dir2 = temp();
    const { a: a2, b: b2 } = await threeLevelChain(dir2);
    const child = await VhdFileReader.open(b2);
    const at = child.bat[2]! * 512 + 512 + 1000;
    await child.close();
    const st = await stat(b2);
    const h = await open(b2, 'r+');
    await h.write(Buffer.from([0x5a]), 0, 1, at);
    await h.close();
    await utimes(b2, st.atime, st.mtime);
    const err = await mergeVhdIntoParent(dir2, path.basename(a2), path.basename(b2), { batchBlocks: 1 }).then(
      () => {
        throw new Error('the merge should have refused the damaged block');
      },
      (e: unknown) => e as SluiceError,
    );
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.message).toContain(`${b2}: block 2`);
    // Either the block or its checksum file changed: both are named.
    expect(err.message).toContain(`recorded for it in ${b2}.checksum.json`);
    expect(err.context).toMatchObject({ file: b2, block: '2', damage: 'block', checksumFile: `${b2}.checksum.json` });
    // The parent's digests stay aside for the resume; none beside the half-merged parent.
    expect((await loadDigests(a2)).kind).toBe('absent');
  });

  it('finishes a merge that crashed after the new footer or after the rename', async () => {
    const dir = temp();
    const { root, a, b } = await threeLevelChain(dir);
    const before = await chainDigest([root, a, b]);
    const saved = path.join(dir, 'saved');
    await copyFile(b, `${saved}-child`);
    await copyFile(digestsPathOf(b), `${saved}-child-digests`);
    let lastState = '';
    await mergeVhdIntoParent(dir, path.basename(a), path.basename(b), {
      batchBlocks: 100,
      afterBatch: async () => {
        lastState = await readFile(mergeStatePath(dir, path.basename(a)), 'utf8');
        await copyFile(parentDigestsAsidePath(a), `${saved}-aside`);
      },
    });
    const expected = await expectDigestsDescribe(b);
    await copyFile(b, `${saved}-merged`);
    await copyFile(digestsPathOf(b), `${saved}-merged-digests`);

    // Crash after the footer took the child's identity and the merged digests were written, before the step
    // moved on: the parent is still there, with the final digests beside it.
    await copyFile(`${saved}-merged`, a);
    await copyFile(`${saved}-merged-digests`, digestsPathOf(a));
    await copyFile(`${saved}-child`, b);
    await copyFile(`${saved}-child-digests`, digestsPathOf(b));
    await copyFile(`${saved}-aside`, parentDigestsAsidePath(a));
    await writeFile(mergeStatePath(dir, path.basename(a)), lastState);
    // Meanwhile the child's point still resolves, and reads the same: the parent stands in for the child.
    const scan = await scanVhdFolder(new FolderRemote(path.dirname(dir)), path.basename(dir));
    const d = path.basename(dir);
    expect(resolveChain(scan, path.basename(b))).toEqual({
      keys: [`${d}/${path.basename(root)}`, `${d}/${path.basename(a)}`],
      paths: [root, a],
    });
    expect(await chainDigest([root, a])).toBe(before);
    await mergeVhdIntoParent(dir, path.basename(a), path.basename(b));
    expect(await chainDigest([root, b])).toBe(before);
    expect(await expectDigestsDescribe(b)).toEqual(expected);

    // Crash after the rename, before the state file went.
    await writeFile(
      mergeStatePath(dir, path.basename(a)),
      JSON.stringify({ ...JSON.parse(lastState), step: 'cleanupVhds' }),
    );
    await resumeVhdMerge(dir, `.${path.basename(a)}.merge.json`);
    expect((await readdir(dir)).filter((n) => !n.startsWith('saved')).sort()).toEqual(
      withDigests(path.basename(root), path.basename(b)),
    );
    expect(await chainDigest([root, b])).toBe(before);
    expect(await expectDigestsDescribe(b)).toEqual(expected);
  });

  it('refuses a truncated child or one with a bad footer checksum, and leaves the parent untouched', async () => {
    for (const damage of ['truncated', 'checksum'] as const) {
      const dir = temp();
      const { root, a, b } = await threeLevelChain(dir);
      const parentBefore = await fileDigest(a);
      if (damage === 'truncated') {
        const { size } = await (await import('node:fs/promises')).stat(b);
        await truncate(b, size - 700);
      } else {
        const h = await open(b, 'r+');
        const { size } = await h.stat();
        await h.write(Buffer.from([0x42]), 0, 1, size - 512 + 48);
        await h.close();
      }
      await expect(mergeVhdIntoParent(dir, path.basename(a), path.basename(b))).rejects.toThrow(
        damage === 'truncated' ? /footer|truncated|ends/ : /checksum/,
      );
      expect(await fileDigest(a)).toBe(parentBefore);
      expect(await readdir(dir)).not.toContain(`.${path.basename(a)}.merge.json`);
      void root;
    }
  });

  it('refuses to resume onto a file that is not the one the merge started on', async () => {
    const dir = temp();
    const { a, b } = await threeLevelChain(dir);
    await expect(
      mergeVhdIntoParent(dir, path.basename(a), path.basename(b), {
        batchBlocks: 1,
        afterBatch: () => Promise.reject(new Error('stop')),
      }),
    ).rejects.toThrow('stop');
    await rm(a);
    await makeVhd(a, 2, [{ index: 0, seed: 77 }], { id: 9, name: 'other.vhd' });
    await expect(resumeVhdMerge(dir, `.${path.basename(a)}.merge.json`)).rejects.toThrow(
      /not the file the merge started on/,
    );
  });
});
