import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportPoint } from '../../src-main/export/export-point.js';
import { digestsPathOf, maxDigestsBytes } from '../../src-main/formats/vhd/vhd-block-digests.js';
import { FOOTER_SIZE } from '../../src-main/formats/vhd/vhd-structures.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { collapseUnreferencedVhds } from '../../src-main/repository/chain-collapser.js';
import { referencedVhds } from '../../src-main/repository/point-file-keys.js';
import { deltaPointDisks } from '../../src-main/repository/point-disks.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import { runCli } from '../helpers/cli.js';
import { hostObjects, testRestoreOptions } from '../helpers/restore.js';
import { MiB } from '../helpers/sim.js';
import { failure, flipBit, patchFooterSize, pointFile } from '../helpers/vhd-damage.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { deltaRepositoryCopies } from '../helpers/delta-points.js';

// The checksum file beside each VHD (`.vhd.checksum.json`) is trusted by what the VHD is, never by its mtime,
// and a checksum file that cannot be read is reported, never skipped; each VHD's disk size must be the one
// the point's metadata records.

const env = withSimulator();
const { temp } = env;
/** A clean repository with three incremental points of web01; each test damages its own copy. */
const copyOfRepository = deltaRepositoryCopies(env, { vm: 'web01', jobId: 'job-sidecar', seed: 70 });

async function vhdsUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return entries.filter((e) => e.endsWith('.vhd')).map((e) => path.join(dir, e));
}

function restore(point: BackupPoint, points: BackupPoint[]): Promise<unknown> {
  return restorePoint(env.xapi, point, testRestoreOptions(temp(), { points }));
}

describe('checksum files of VHDs', () => {
  it('a data block flipped in a file whose mtime also changed is found: the checksums are not switched off by the mtime', async () => {
    const { points } = await copyOfRepository();
    const { file, block, at, reader } = await pointFile(points[1]!);
    await reader.close();
    await flipBit(file, at + 512 + 4096 + 7, { touch: true });
    const err = await failure(verifyPoint(points[1]!));
    expect(err.message).toContain(`${file}: block ${block}`);
    expect(err.context).toMatchObject({ file, block: String(block), damage: 'block' });
    const before = hostObjects(env.sim);
    const r = await failure(restore(points[1]!, points));
    expect(r.message).toContain(`${file}: block ${block}`);
    expect(hostObjects(env.sim)).toEqual(before);
  });

  it('a copy of the repository with `cp -r` (every mtime new) verifies clean, every block checked', async () => {
    const { root: source } = await copyOfRepository();
    const old = new Date('2020-01-01T00:00:00Z');
    for (const f of await vhdsUnder(source)) await fs.utimes(f, old, old);
    const copy = path.join(temp(), 'copy');
    execFileSync('cp', ['-r', source, copy]);
    const vhds = await vhdsUnder(copy);
    expect(vhds.length).toBeGreaterThan(0);
    for (const f of vhds) expect((await fs.stat(f)).mtimeMs).not.toBe(old.getTime());

    for (const p of (await listBackupPoints(copy)).points) expect((await verifyPoint(p)).structureOnly).toEqual([]);
    const cli = await runCli(['verify', '--remote', copy]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).not.toContain('structure checked only');
    expect(cli.stdout).toContain('3 point(s) checked, 0 damaged');
  });

  it('a truncated, garbled, oversized or non-JSON checksum file is a finding that names it: verify fails, restore refuses', async () => {
    const cases: Array<{ how: string; damage: (sidecar: string) => Promise<void>; says: RegExp }> = [
      {
        how: 'truncated',
        damage: async (s) => fs.truncate(s, Math.floor((await fs.stat(s)).size / 2)),
        says: /not valid JSON/,
      },
      {
        how: 'a field garbled',
        damage: async (s) => {
          const json = JSON.parse(await fs.readFile(s, 'utf8')) as Record<string, unknown>;
          await fs.writeFile(s, JSON.stringify({ ...json, blockSize: 'two megabytes' }));
        },
        says: /not a valid checksum file \(blockSize/,
      },
      {
        how: 'oversized',
        damage: (s) => fs.writeFile(s, `{"version":2${' '.repeat(maxDigestsBytes(16))}}`),
        says: /larger than the \d+ bytes a checksum file of its VHD can be/,
      },
      { how: 'not JSON', damage: (s) => fs.writeFile(s, Buffer.from([0, 1, 2, 0xff])), says: /not valid JSON/ },
    ];
    for (const c of cases) {
      const { root, points } = await copyOfRepository();
      const { file, reader } = await pointFile(points[1]!);
      await reader.close();
      const sidecar = digestsPathOf(file);
      await c.damage(sidecar);
      const err = await failure(verifyPoint(points[1]!));
      expect(err.code, c.how).toBe('REMOTE_ERROR');
      expect(err.message, c.how).toContain(`the checksum file of ${file} is unreadable`);
      expect(err.message, c.how).toMatch(c.says);
      expect(err.context, c.how).toMatchObject({
        vhd: file,
        file: sidecar,
        checksumFile: sidecar,
        damage: 'checksum-format',
      });
      expect(err.hint, c.how).toContain(`move ${sidecar} out of the repository`);
      // The later point reads the same file: it fails too; the earlier one does not.
      await failure(verifyPoint(points[2]!));
      await expect(verifyPoint(points[0]!)).resolves.toBeDefined();
      if (c.how === 'truncated') {
        const cli = await runCli(['verify', '--remote', root]);
        expect(cli.code).toBe(1);
        expect(cli.stdout).toContain(sidecar);
        expect(cli.stdout).toContain('3 point(s) checked, 2 damaged');
        const before = hostObjects(env.sim);
        const r = await failure(restore(points[1]!, points));
        expect(r.message).toContain(`the checksum file of ${file} is unreadable`);
        expect(hostObjects(env.sim)).toEqual(before);
      }
    }
  });

  it('the same VHD grown since Sluice wrote it (a valid footer appended) is damage, named with both lengths', async () => {
    const { points } = await copyOfRepository();
    const { file, reader } = await pointFile(points[1]!);
    const size = reader.fileSize;
    await reader.close();
    const footer = Buffer.alloc(FOOTER_SIZE);
    const h = await fs.open(file, 'r+');
    await h.read(footer, 0, FOOTER_SIZE, size - FOOTER_SIZE);
    await h.write(footer, 0, FOOTER_SIZE, size);
    await h.close();
    const err = await failure(verifyPoint(points[1]!));
    expect(err.message).toContain(`${file} is ${size + FOOTER_SIZE} bytes, but Sluice wrote ${size} bytes`);
    expect(err.context).toMatchObject({ file, damage: 'size' });
    const before = hostObjects(env.sim);
    await failure(restore(points[1]!, points));
    expect(hostObjects(env.sim)).toEqual(before);
  });

  it("a VHD another tool rewrote (a merge as Xen Orchestra does it, leaving the child's checksum file) is checked by structure only, and says so", async () => {
    const { root, points } = await copyOfRepository();
    const parentFile = (await deltaPointDisks(points[0]!))[0]!.chain.at(-1)!;
    const childFile = (await deltaPointDisks(points[1]!))[0]!.chain.at(-1)!;
    const childDigests = await fs.readFile(digestsPathOf(childFile));
    await fs.rm(points[0]!.metadataPath);
    const kept = (await listBackupPoints(root)).points;
    const folderKey = path.relative(root, path.dirname(parentFile)).split(path.sep).join('/');
    await collapseUnreferencedVhds(new FolderRemote(root), folderKey, referencedVhds(kept));
    // Xen Orchestra knows nothing of checksum files: the merged parent takes the child's name beside the
    // child's checksum file.
    await fs.writeFile(digestsPathOf(childFile), childDigests);

    const r = await verifyPoint(kept[0]!);
    expect(r.structureOnly).toEqual([
      {
        file: childFile,
        reason: expect.stringMatching(/was merged by another tool \(most likely Xen Orchestra.*not a sign of damage/),
      },
    ]);
    const cli = await runCli(['verify', '--remote', root]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toContain(`${childFile}: structure checked only`);
  });

  it('a checksum file of the older format (length and mtime, no identity) still checks every block whatever the mtime; one that no longer matches is a finding', async () => {
    const { points } = await copyOfRepository();
    const { file, block, at, reader } = await pointFile(points[1]!);
    const size = reader.fileSize;
    await reader.close();
    const current = JSON.parse(await fs.readFile(digestsPathOf(file), 'utf8')) as Record<string, unknown>;
    const { identity: _identity, ...rest } = current;
    const v1 = JSON.stringify({ ...rest, version: 1, fileSize: size, mtimeMs: 1 });
    await fs.writeFile(digestsPathOf(file), v1);
    expect((await verifyPoint(points[1]!)).structureOnly).toEqual([]);

    await flipBit(file, at + 512 + 9, { touch: true });
    const err = await failure(verifyPoint(points[1]!));
    expect(err.context).toMatchObject({ file, block: String(block), damage: 'block' });

    const again = await copyOfRepository();
    const other = await pointFile(again.points[1]!);
    await other.reader.close();
    await fs.writeFile(digestsPathOf(other.file), v1);
    await fs.appendFile(other.file, Buffer.alloc(0));
    const h = await fs.open(other.file, 'r+');
    const footer = Buffer.alloc(FOOTER_SIZE);
    await h.read(footer, 0, FOOTER_SIZE, size - FOOTER_SIZE);
    await h.write(footer, 0, FOOTER_SIZE, size);
    await h.close();
    const changed = await failure(verifyPoint(again.points[1]!));
    expect(changed.message).toMatch(/changed since its checksums were recorded .*older format/);
    expect(changed.context.file).toBe(other.file);
  });

  it('a VHD whose footer claims another disk size than the metadata records is refused by verify, restore and export, naming the file and both sizes', async () => {
    const recorded = 12 * MiB + 512 * 1024;
    for (const claimed of [14 * MiB, 2040 * 1024 * MiB]) {
      const { points } = await copyOfRepository();
      const disk = (await deltaPointDisks(points[2]!))[1]!;
      expect(disk.virtualSize).toBe(recorded);
      const file = disk.chain.at(-1)!;
      await patchFooterSize(file, claimed);
      const says = (e: { message: string }) => {
        expect(e.message).toContain(file);
        expect(e.message).toContain(String(claimed));
        if (claimed === 14 * MiB) expect(e.message).toContain(`metadata records 12.5 MiB (${recorded} bytes)`);
      };
      says(await failure(verifyPoint(points[2]!)));
      const before = hostObjects(env.sim);
      says(await failure(restore(points[2]!, points)));
      expect(hostObjects(env.sim)).toEqual(before);
      const out = temp();
      says(
        await failure(exportPoint(points[2]!, { format: 'raw', out, runId: 'x', log: () => {}, onProgress: () => {} })),
      );
      expect(await fs.readdir(out)).toEqual([]);
      await expect(verifyPoint(points[1]!)).resolves.toBeDefined();
    }

    // An older file of the chain larger than the newest: a disk only grows.
    const { points } = await copyOfRepository();
    const older = (await deltaPointDisks(points[1]!))[1]!.chain.at(-1)!;
    await patchFooterSize(older, 14 * MiB);
    const err = await failure(verifyPoint(points[2]!));
    expect(err.message).toContain(`${older}, an older file of the chain`);
    expect(err.context).toMatchObject({ file: older, damage: 'size' });
  });
});
