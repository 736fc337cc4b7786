import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VhdChainReader } from '../../src-main/formats/vhd/vhd-chain-reader.js';
import { VhdDirectoryReader } from '../../src-main/formats/vhd/vhd-directory-reader.js';
import { VhdDirectoryWriter } from '../../src-main/formats/vhd/vhd-directory-writer.js';
import type { ChunkCompression } from '../../src-main/formats/vhd/vhd-directory.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { remoteDirectoryStore } from '../../src-main/repository/vhd-directory-files.js';
import { mergeVhdDirectoryIntoParent } from '../../src-main/repository/vhd-directory-merge.js';
import { collect } from '../helpers/vhd-fixtures.js';

// The directory merge on hand-made directories: a child block that marks only some sectors is laid over the
// parent's block (the parent's other sectors stay), a block the parent lacks is copied in, and parent and
// child stored with different filters still merge (the child's blocks are re-encoded in the parent's).

const MiB = 1024 * 1024;
const uuid = (n: number) => `d1e00000-0000-4000-8000-${String(n).padStart(12, '0')}`;
let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sluice-dir-merge-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function make(
  remote: FolderRemote,
  folder: string,
  id: string,
  compression: ChunkCompression,
  blocks: Array<[number, number, Buffer | undefined]>,
  parent?: { uuid: string; name: string },
  n = 0,
) {
  const dirKey = `${folder}/data/${id}.vhd`;
  const w = VhdDirectoryWriter.start(remoteDirectoryStore(remote, dirKey), {
    currentSize: 6 * MiB,
    uuid: uuid(n),
    compression,
    ...(parent ? { parent } : {}),
  });
  for (const [index, fill, bitmap] of blocks) await w.writeBlock(index, Buffer.alloc(2 * MiB, fill), bitmap);
  await w.finish();
  await remote.writeNew(`${folder}/${id}.alias.vhd`, `data/${id}.vhd`);
}

async function readChain(remote: FolderRemote, folder: string, ids: string[]): Promise<Buffer> {
  const chain = await VhdChainReader.openEach(ids, async (id) => {
    const target = (await readFile(path.join(root, folder, `${id}.alias.vhd`), 'utf8')).trim();
    return VhdDirectoryReader.open(remoteDirectoryStore(remote, `${folder}/${target}`));
  });
  try {
    return await collect(chain.read());
  } finally {
    await chain.close();
  }
}

describe('merging VHD directories', () => {
  it.each<[ChunkCompression, ChunkCompression]>([
    ['brotli', 'brotli'],
    ['gzip', 'none'],
  ])(
    'a %s parent absorbs a %s child: partial blocks overlaid, new blocks copied, the chain reads the same',
    async (pc, cc) => {
      const remote = new FolderRemote(root);
      const folder = `f-${pc}-${cc}`;
      const half = Buffer.alloc(512);
      half.fill(0xff, 0, 256); // the first 2048 sectors of the block: its first half
      await make(
        remote,
        folder,
        'a',
        pc,
        [
          [0, 0x11, undefined],
          [1, 0x22, undefined],
        ],
        undefined,
        1,
      );
      await make(
        remote,
        folder,
        'b',
        cc,
        [
          [1, 0x33, half],
          [2, 0x44, undefined],
        ],
        { uuid: uuid(1), name: 'a.alias.vhd' },
        2,
      );
      const before = await readChain(remote, folder, ['a', 'b']);
      const expected = Buffer.concat([
        Buffer.alloc(2 * MiB, 0x11),
        Buffer.alloc(MiB, 0x33),
        Buffer.alloc(MiB, 0x22),
        Buffer.alloc(2 * MiB, 0x44),
      ]);
      expect(before.equals(expected)).toBe(true);
      const r = await mergeVhdDirectoryIntoParent(remote, folder, 'a.alias.vhd', 'b.alias.vhd', { batchBlocks: 1 });
      expect(r.blocksTotal).toBe(2);
      expect(await readFile(path.join(root, folder, 'b.alias.vhd'), 'utf8')).toBe('data/a.vhd');
      const merged = await VhdDirectoryReader.open(remoteDirectoryStore(remote, `${folder}/data/a.vhd`));
      expect(merged.footer.uuid).toBe(uuid(2));
      expect(merged.filter.id).toBe(pc);
      expect(merged.storedBlocks()).toEqual([0, 1, 2]);
      expect((await readChain(remote, folder, ['b'])).equals(expected)).toBe(true);
      // Nothing of the child's directory or the parent's alias is left.
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(path.join(root, folder))).sort()).toEqual(['b.alias.vhd', 'data']);
      expect(await readdir(path.join(root, folder, 'data'))).toEqual(['a.vhd']);
    },
  );
});
