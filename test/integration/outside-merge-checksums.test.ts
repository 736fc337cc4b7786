import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIGESTS_SUFFIX } from '../../src-main/formats/vhd/vhd-block-digests.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { collapseUnreferencedVhds } from '../../src-main/repository/chain-collapser.js';
import { referencedVhds } from '../../src-main/repository/point-file-keys.js';
import { deltaPointDisks } from '../../src-main/repository/point-disks.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { runCli } from '../helpers/cli.js';
import { checkJson, deltaRepositoryCopies } from '../helpers/delta-points.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { failure, flipBit, pointFile } from '../helpers/vhd-damage.js';

// Issue 16: Xen Orchestra merges a chain Sluice wrote without knowing the checksum files beside the VHDs. It
// merges the newer file into the older, renames the older over the newer and deletes nothing else: the
// merged-away file's checksum file stays (an orphan), and the newer name's checksum file describes the file as
// it was before the merge (stale). `check` must report both, `--repair` remove the orphan and retire the
// stale one (touching nothing else), and verify must call the merge a merge, never damage, while real damage
// elsewhere is still found.

const env = withSimulator();
const copyOfRepository = deltaRepositoryCopies(env, { vm: 'web01', jobId: 'job-xo-merge', seed: 90 });

/** Every file under `dir` with the SHA-256 of its bytes. */
async function contents(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const rel of await fs.readdir(dir, { recursive: true })) {
    const file = path.join(dir, rel);
    if ((await fs.stat(file)).isFile())
      out.set(
        rel,
        createHash('sha256')
          .update(await fs.readFile(file))
          .digest('hex'),
      );
  }
  return out;
}

/**
 * Deletes the oldest point as Xen Orchestra's retention does: its metadata goes, then its VHDs are merged into
 * the next point's name (done here with Sluice's own merge primitives, which produce the same files), and the
 * checksum files are put back as they were, since XO never touches them.
 */
async function mergeLikeXo(
  root: string,
  points: BackupPoint[],
): Promise<{ kept: BackupPoint[]; merged: string[]; orphans: string[] }> {
  const [oldest, next] = points;
  const sidecars = new Map<string, Buffer>();
  const merged: string[] = [];
  const orphans = (await deltaPointDisks(oldest!)).map((d) => d.chain.at(-1)! + DIGESTS_SUFFIX);
  for (const d of await deltaPointDisks(next!)) {
    merged.push(d.chain.at(-1)!);
    for (const f of d.chain) sidecars.set(f + DIGESTS_SUFFIX, await fs.readFile(f + DIGESTS_SUFFIX));
  }
  await fs.rm(oldest!.metadataPath);
  const kept = (await listBackupPoints(root)).points;
  const remote = new FolderRemote(root);
  for (const file of merged) {
    const folderKey = path.relative(root, path.dirname(file)).split(path.sep).join('/');
    await collapseUnreferencedVhds(remote, folderKey, referencedVhds(kept));
  }
  for (const [file, bytes] of sidecars) await fs.writeFile(file, bytes);
  return { kept, merged, orphans };
}

describe('checksum files after a merge by Xen Orchestra', () => {
  it('check reports the orphan and the stale checksum files; --repair removes only the orphans and retires the stale ones', async () => {
    const { root, points } = await copyOfRepository();
    const { merged, orphans } = await mergeLikeXo(root, points);
    for (const o of orphans) await expect(fs.access(o.slice(0, -DIGESTS_SUFFIX.length))).rejects.toThrow();

    const check = await runCli(['check', '--remote', root, '--json']);
    expect(check.code).toBe(1);
    const problems = checkJson(check.stdout).filter((e) => e.type === 'problem');
    expect(problems.filter((p) => p.kind === 'orphan-checksum').map((p) => p.path)).toEqual(orphans.sort());
    expect(problems.filter((p) => p.kind === 'stale-checksum').map((p) => p.path)).toEqual(
      merged.map((f) => f + DIGESTS_SUFFIX).sort(),
    );
    expect(problems).toHaveLength(orphans.length + merged.length);
    const orphan = problems.find((p) => p.kind === 'orphan-checksum')!;
    expect(orphan).toMatchObject({ fixable: true });
    expect(orphan.message).toMatch(/no longer there: .*merge of the chain by another tool.*safe to remove/);
    const text = await runCli(['check', '--remote', root]);
    expect(text.stdout + text.stderr).toContain(orphans[0]!);

    const before = await contents(root);
    const repair = await runCli(['check', '--remote', root, '--repair', '--json']);
    expect(repair.code, repair.stderr).toBe(0);
    expect(checkJson(repair.stdout).find((e) => e.type === 'summary')).toMatchObject({ remaining: 0 });
    const after = await contents(root);
    const rel = (f: string) => path.relative(root, f);
    // Only the orphans are gone, only the stale checksum files changed; every other byte is as it was.
    expect([...before.keys()].filter((k) => !after.has(k)).sort()).toEqual(orphans.map(rel).sort());
    expect([...after.keys()].filter((k) => !before.has(k))).toEqual([]);
    expect([...after.keys()].filter((k) => after.get(k) !== before.get(k)).sort()).toEqual(
      merged.map((f) => rel(f + DIGESTS_SUFFIX)).sort(),
    );
    const clean = await runCli(['check', '--remote', root, '--json']);
    expect(clean.code, clean.stdout).toBe(0);
  });

  it('with a metadata file it cannot read in the VM folder, --repair leaves every checksum file as it is', async () => {
    const { root, points } = await copyOfRepository();
    await mergeLikeXo(root, points);
    // A point Sluice cannot read might name any of these files: nothing of the folder is touched.
    await fs.writeFile(path.join(path.dirname(points[0]!.metadataPath), '20000101T000000Z.json'), '{ not json');
    const before = await contents(root);
    await runCli(['check', '--remote', root, '--repair', '--json']);
    expect(await contents(root)).toEqual(before);
  });

  it('a checksum file that is a link is never followed: --repair neither removes nor rewrites what it points at', async () => {
    const { root, points } = await copyOfRepository();
    const { merged, orphans } = await mergeLikeXo(root, points);
    // Outside the repository, where a hostile or mistaken link could make a repair delete or overwrite.
    const outside = env.temp();
    const links = [orphans[0]!, merged[0]! + DIGESTS_SUFFIX];
    const targets: string[] = [];
    for (const [i, link] of links.entries()) {
      const target = path.join(outside, `target-${i}.json`);
      await fs.rename(link, target);
      await fs.symlink(target, link);
      targets.push(target);
    }
    const before = await Promise.all(targets.map((t) => fs.readFile(t, 'utf8')));

    const repair = await runCli(['check', '--remote', root, '--repair', '--json']);
    expect(repair.stderr).not.toMatch(/TypeError|ENOENT/);
    expect(await Promise.all(targets.map((t) => fs.readFile(t, 'utf8')))).toEqual(before);
    for (const [i, link] of links.entries()) {
      expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
      expect(await fs.readlink(link)).toBe(targets[i]);
    }
  });

  it('verify calls the merged files merged by another tool, not damaged, and checks them by structure', async () => {
    const { root, points } = await copyOfRepository();
    const { kept, merged } = await mergeLikeXo(root, points);
    const r = await verifyPoint(kept[0]!);
    expect(r.structureOnly.map((s) => s.file).sort()).toEqual([...merged].sort());
    for (const s of r.structureOnly) {
      expect(s.reason).toMatch(/was merged by another tool .*Xen Orchestra/);
      expect(s.reason).toMatch(/not a sign of damage/);
    }
    for (const p of kept) await verifyPoint(p);
    const cli = await runCli(['verify', '--remote', root]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).not.toMatch(/damaged|rewritten/i);

    // Once --repair retired the stale checksums, verify says why there are none.
    await runCli(['check', '--remote', root, '--repair']);
    const again = await verifyPoint(kept[0]!);
    expect(again.structureOnly.map((s) => s.reason)).toEqual(
      merged.map(() => expect.stringMatching(/merged by another tool .* after Sluice recorded its checksums/)),
    );
  });

  it('a block flipped in a file the merge left alone is still damage; so is a merged file missing a block its checksums record', async () => {
    const { root, points } = await copyOfRepository();
    // A block of the newer file's own, which its checksum file records, before the merge.
    const own = await pointFile(points[1]!);
    await own.reader.close();
    const { kept, merged } = await mergeLikeXo(root, points);
    const { file, block, at, reader } = await pointFile(kept[1]!);
    await reader.close();
    expect(merged).not.toContain(file);
    await flipBit(file, at + 512 + 4096 + 3);
    const err = await failure(verifyPoint(kept[1]!));
    expect(err.message).toContain(`${file}: block ${block}`);
    await flipBit(file, at + 512 + 4096 + 3);
    await verifyPoint(kept[1]!);

    // A merge only adds blocks: a merged file whose table lost one the stale checksums record is not a merge.
    const m = await pointFile(kept[0]!);
    const tableAt = m.reader.header.tableOffset + own.block * 4;
    await m.reader.close();
    expect(merged).toContain(m.file);
    expect(m.file).toBe(own.file);
    const h = await fs.open(m.file, 'r+');
    await h.write(Buffer.alloc(4, 0xff), 0, 4, tableAt);
    await h.close();
    const lost = await failure(verifyPoint(kept[0]!));
    expect(lost.message).toMatch(/no merge explains the change: block \d+, which its checksums record, is no longer/);
  });
});
