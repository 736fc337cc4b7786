import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VhdFileReader } from '../../src-main/formats/vhd/vhd-file-reader.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { collapseUnreferencedVhds } from '../../src-main/repository/chain-collapser.js';
import { referencedVhds } from '../../src-main/repository/point-file-keys.js';
import { deltaPointDisks } from '../../src-main/repository/point-disks.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import { runCli } from '../helpers/cli.js';
import { hostObjects, testRestoreOptions } from '../helpers/restore.js';
import { failure, flipBit, pointFile } from '../helpers/vhd-damage.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { deltaRepositoryCopies } from '../helpers/delta-points.js';

const env = withSimulator();
const { temp } = env;
/** A clean repository with three incremental points of web01; each test damages its own copy. */
const copyOfRepository = deltaRepositoryCopies(env, { vm: 'web01', jobId: 'job-verify', seed: 40 });

/** The second point's VHD of disk 0 (a differencing file), and the byte where its first stored block starts. */
function middleFile(points: BackupPoint[]): ReturnType<typeof pointFile> {
  return pointFile(points[1]!);
}

describe('verify of incremental points', () => {
  it('a clean chain verifies: every file, block digests included, nothing checked by structure only', async () => {
    const { points } = await copyOfRepository();
    expect(points.map((p) => p.mode)).toEqual(['delta', 'delta', 'delta']);
    for (const p of points) {
      const progress: unknown[] = [];
      const r = await verifyPoint(p, { onProgress: (x) => progress.push(x) });
      expect(r.structureOnly).toEqual([]);
      expect(r.bytes).toBeGreaterThan(0);
      expect(progress.length).toBeGreaterThan(0);
    }
  });

  it('a bit flipped in a data block is found and named (file, block, offset) in this point and the later one; restore refuses and names the nearest good point', async () => {
    const { points } = await copyOfRepository();
    const { file, block, at, reader } = await middleFile(points);
    await reader.close();
    await flipBit(file, at + 512 + 4096 + 3);

    await expect(verifyPoint(points[0]!)).resolves.toBeDefined();
    for (const p of [points[1]!, points[2]!]) {
      const err = await failure(verifyPoint(p));
      expect(err.code).toBe('REMOTE_ERROR');
      expect(err.message).toContain(file);
      expect(err.message).toContain(`block ${block}`);
      expect(err.context).toMatchObject({ file, block: String(block), offset: String(at), damage: 'block' });
    }

    const before = hostObjects(env.sim);
    // Restore checks the blocks it reads: point 2's own file holds the damaged block, so its restore refuses.
    const err = await failure(restorePoint(env.xapi, points[1]!, testRestoreOptions(temp(), { points })));
    expect(err.code).toBe('REMOTE_ERROR');
    expect(err.message).toContain(`block ${block}`);
    expect(err.hint).toContain(`--at ${points[0]!.id}`);
    expect(err.context.nearestGoodPoint).toBe(points[0]!.id);
    expect(hostObjects(env.sim)).toEqual(before);
  });

  it('damage to the BAT, the header, the footer copy or the parent locators is found and named', async () => {
    const cases: Array<{ where: string; offset: (r: VhdFileReader, block: number) => number; damage: RegExp }> = [
      { where: 'footer copy', offset: () => 70, damage: /footer/ },
      { where: 'dynamic header', offset: () => 512 + 40, damage: /header/ },
      { where: 'parent locator data', offset: () => 1536 + 2, damage: /metadata|locator/ },
      { where: 'BAT entry', offset: (r, block) => r.header.tableOffset + block * 4 + 3, damage: /bat|metadata|block/ },
    ];
    for (const c of cases) {
      const { points } = await copyOfRepository();
      const { file, block, reader } = await middleFile(points);
      const offset = c.offset(reader, block);
      await reader.close();
      await flipBit(file, offset);
      const err = await failure(verifyPoint(points[1]!));
      expect(err.code, c.where).toBe('REMOTE_ERROR');
      expect(err.message, c.where).toContain(path.basename(file));
      expect(`${err.context.damage} ${err.message}`, c.where).toMatch(c.damage);
      expect(err.context.file ?? err.message, c.where).toContain(path.basename(file));
    }
  });

  it('a missing parent is named; restore fails before creating anything on the host', async () => {
    const { points } = await copyOfRepository();
    const first = (await deltaPointDisks(points[0]!))[0]!.chain[0]!;
    await fs.rm(first);
    const err = await failure(verifyPoint(points[2]!));
    expect(err.message).toContain(first);
    expect(err.context.damage).toBe('missing-parent');
    const before = hostObjects(env.sim);
    const r = await failure(restorePoint(env.xapi, points[2]!, testRestoreOptions(temp(), { points })));
    expect(r.message).toMatch(/needs its parent .* which is missing/);
    expect(hostObjects(env.sim)).toEqual(before);
  });

  it('after a retention merge the merged file keeps digests: a bit flipped in a block from the parent or from the child is named; restore refuses', async () => {
    for (const origin of ['parent', 'child'] as const) {
      const { root, points } = await copyOfRepository();
      const parentFile = (await deltaPointDisks(points[0]!))[0]!.chain.at(-1)!;
      const childFile = (await deltaPointDisks(points[1]!))[0]!.chain.at(-1)!;
      const parent = await VhdFileReader.open(parentFile);
      const child = await VhdFileReader.open(childFile);
      const blocks = (r: VhdFileReader) => [...r.bat.keys()].filter((i) => r.hasBlock(i));
      const block = origin === 'child' ? blocks(child)[0]! : blocks(parent).find((i) => !child.hasBlock(i))!;
      expect(block, origin).toBeDefined();
      await parent.close();
      await child.close();

      // Retention deletes the oldest point: its VHD absorbs the next one's and takes its name.
      await fs.rm(points[0]!.metadataPath);
      const kept = (await listBackupPoints(root)).points;
      const folderKey = path.relative(root, path.dirname(parentFile)).split(path.sep).join('/');
      const collapse = await collapseUnreferencedVhds(new FolderRemote(root), folderKey, referencedVhds(kept));
      expect(collapse.merged).toEqual([{ parent: path.basename(parentFile), child: path.basename(childFile) }]);
      expect((await verifyPoint(kept[0]!)).structureOnly).toEqual([]);

      const merged = await VhdFileReader.open(childFile);
      const at = merged.bat[block]! * 512;
      await merged.close();
      await flipBit(childFile, at + 512 + 4096 + 5);
      const err = await failure(verifyPoint(kept[0]!));
      expect(err.message, origin).toContain(`${childFile}: block ${block}`);
      expect(err.context, origin).toMatchObject({
        file: childFile,
        block: String(block),
        offset: String(at),
        damage: 'block',
      });

      const before = hostObjects(env.sim);
      const r = await failure(restorePoint(env.xapi, kept[0]!, testRestoreOptions(temp(), { points: kept })));
      expect(r.code, origin).toBe('REMOTE_ERROR');
      expect(r.message, origin).toContain(`${childFile}: block ${block}`);
      expect(hostObjects(env.sim)).toEqual(before);
    }
  });

  it('sluice verify checks incremental points (exit 0), then names the damaged block (exit 1, --json)', async () => {
    const { root, points } = await copyOfRepository();
    const ok = await runCli(['verify', '--remote', root]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.match(/✔ web01 \S+: .* verified/g)).toHaveLength(3);
    expect(ok.stdout).toContain('3 point(s) checked, 0 damaged');
    // --json: each point's progress events, bytesRead never going back, from 0 up to the point's size.
    const json = await runCli(['verify', '--remote', root, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            runId?: string;
            bytesRead?: number;
            totalBytes?: number | null;
            phase?: string;
            point?: string;
            bytes?: number;
          },
      );
    const verified = lines.filter((e) => e.type === 'verified');
    expect(verified.map((e) => e.point)).toEqual(points.map((p) => p.id));
    for (const v of verified) {
      const reads = lines
        .filter((e) => e.type === 'progress' && e.runId === `verify-${v.point}`)
        .map((e) => e.bytesRead!);
      expect(reads).toEqual([...reads].sort((a, b) => a - b));
      expect(reads[0]).toBe(0);
      expect(reads.at(-1)).toBeGreaterThan(0);
    }
    const { file, block, at, reader } = await middleFile(points);
    await reader.close();
    await flipBit(file, at + 600);
    const bad = await runCli(['verify', '--remote', root, '--json']);
    expect(bad.code).toBe(1);
    const events = bad.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const damaged = events.filter((e) => e.type === 'damaged');
    expect(damaged.map((e) => e.point)).toEqual([points[1]!.id, points[2]!.id]);
    expect(damaged[0]!.context).toMatchObject({ file, block: String(block) });
    expect(events.some((e) => e.type === 'progress' && e.phase === 'verify')).toBe(true);
  });
});
