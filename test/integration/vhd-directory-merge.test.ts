import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import type { Remote } from '../../src-main/remotes/remote.js';
import { deleteBackupPoint } from '../../src-main/repository/point-deleter.js';
import { listBackupPoints, openPointDisks, verifyPoint } from '../../src-main/repository/index.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { checkJson, problemKinds } from '../helpers/delta-points.js';
import { killMergeAt } from '../helpers/merge-kill.js';
import { connect, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Retention merges of VHD-directory chains: the deleted point's directory absorbs only its child's block
// objects (bytes moved ≈ the delta's blocks, never the disk), the child's alias then names it; killed at any
// step, every point left restores, `check` names the unfinished merge and `--repair` finishes it.

const JOB = 'job-dir-merge';
const { temp, cleanupAll } = tempDirs();
let sim: SimHandle;
let xapi: XapiSession;
let base: string;
const truth = new Map<string, string>();

const vmUuid = () => sim.control.vmUuidByName('dm');
const diskUuid = () => {
  const vdis = sim.control.records('VDI');
  const vbds = sim.control.records('VBD');
  const vms = sim.control.records('VM');
  const ref = Object.keys(vms).find((r) => vms[r]!.name_label === 'dm' && vms[r]!.is_a_snapshot !== true)!;
  const vbd = Object.values(vbds).find((b) => b.VM === ref && b.type === 'Disk')!;
  return String(vdis[String(vbd.VDI)]!.uuid);
};
const vdiDir = (remote: string) => path.join(remote, 'xo-vm-backups', vmUuid(), 'vdis', JOB, diskUuid());

beforeAll(async () => {
  sim = await startSimulator({
    vms: [{ name: 'dm', powerState: 'Halted', disks: [{ name: 'dm system', size: 48 * MiB, allocated: 16 * MiB }] }],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
  base = temp();
  const ref = (await resolveVms(xapi, ['dm'])).selected[0]!.ref;
  for (let i = 0; i < 3; i++) {
    if (i) sim.control.guestWrite(vmUuid(), 0.1, 70 + i);
    const r = await runDeltaBackup(xapi, ref, testBackupOptions(base, temp(), { jobId: JOB, useVhdDirectory: true }));
    truth.set(r.pointId, await sim.control.hashVdi(diskUuid()));
  }
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

async function pointDigest(remote: string, id: string): Promise<string> {
  const p = (await listBackupPoints(remote)).points.find((x) => x.id === id)!;
  const [{ chain }] = (await openPointDisks(p)) as [Awaited<ReturnType<typeof openPointDisks>>[number]];
  const h = createHash('sha256');
  for await (const piece of chain.read()) h.update(piece);
  await chain.close();
  return h.digest('hex');
}

async function expectRestorable(remote: string, ids: string[]): Promise<void> {
  expect((await listBackupPoints(remote)).points.map((p) => p.id)).toEqual(ids);
  for (const id of ids) expect(await pointDigest(remote, id), id).toBe(truth.get(id));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** What is in the disk folder: aliases, and the data directories by name. */
function layout(remote: string): { aliases: string[]; data: string[]; other: string[] } {
  const names = readdirSync(vdiDir(remote)).sort();
  return {
    aliases: names.filter((n) => n.endsWith('.alias.vhd')),
    data: existsSync(path.join(vdiDir(remote), 'data')) ? readdirSync(path.join(vdiDir(remote), 'data')).sort() : [],
    other: names.filter((n) => !n.endsWith('.alias.vhd') && n !== 'data'),
  };
}

/**
 * A remote that counts the bytes every write puts on it and, like an object store, can neither rename nor
 * update in place (its puts stay whole: the folder's own temp-and-rename is the store's business).
 */
function counting(remote: Remote): { remote: Remote; written: () => number } {
  let written = 0;
  const refuse = () => Promise.reject(new Error('this remote cannot rename or update in place'));
  const proxy = new Proxy(remote, {
    get(target, prop, receiver) {
      if (prop === 'capabilities') return { rename: false, inPlaceUpdate: false };
      if (prop === 'rename' || prop === 'openUpdate') return refuse;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'writeNew' || prop === 'overwrite') {
        return (key: string, data: Buffer | string) => {
          written += Buffer.byteLength(data);
          return (v as (k: string, d: Buffer | string) => Promise<void>).call(target, key, data);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { remote: proxy, written: () => written };
}

describe('merging VHD-directory chains', () => {
  it("deleting the oldest point copies in only the child's blocks, then the child's alias names the merged directory", async () => {
    const remote = temp();
    cpSync(base, remote, { recursive: true });
    const [oldest, second, third] = [...truth.keys()] as [string, string, string];
    const childDir = path.join(vdiDir(remote), 'data', `${second}.vhd`);
    const childBlocks = filesUnder(childDir)
      .filter((f) => f.startsWith('blocks/'))
      .reduce((n, f) => n + statSync(path.join(childDir, f)).size, 0);
    const parentBlocks = filesUnder(path.join(vdiDir(remote), 'data', `${oldest}.vhd`)).filter((f) =>
      f.startsWith('blocks/'),
    ).length;
    expect(childBlocks).toBeGreaterThan(0);

    const c = counting(new FolderRemote(remote));
    const point = (await listBackupPoints(remote)).points.find((p) => p.id === oldest)!;
    const r = await deleteBackupPoint(c.remote, point, { batchBlocks: 2 });
    expect(r.collapse?.merged).toEqual([{ parent: `${oldest}.alias.vhd`, child: `${second}.alias.vhd` }]);
    expect(r.collapse?.problems).toEqual([]);
    // Bytes moved: the child's block objects, plus a bat, a footer, an alias and state files (a few KiB).
    expect(c.written()).toBeGreaterThanOrEqual(childBlocks);
    expect(c.written()).toBeLessThanOrEqual(childBlocks * 1.1 + 64 * 1024);
    // The child's alias now names the oldest directory (it holds the whole disk as of the second point).
    expect(layout(remote)).toEqual({
      aliases: [`${second}.alias.vhd`, `${third}.alias.vhd`],
      data: [`${oldest}.vhd`, `${third}.vhd`],
      other: [],
    });
    expect(readFileSync(path.join(vdiDir(remote), `${second}.alias.vhd`), 'utf8')).toBe(`data/${oldest}.vhd`);
    expect(
      filesUnder(path.join(vdiDir(remote), 'data', `${oldest}.vhd`)).filter((f) => f.startsWith('blocks/')).length,
    ).toBeGreaterThanOrEqual(parentBlocks);
    await expectRestorable(remote, [second, third]);
    for (const p of (await listBackupPoints(remote)).points) await verifyPoint(p);
    const check = await runCli(['check', '--remote', remote, '--json']);
    expect(problemKinds(check.stdout)).toEqual([]);
  });

  it('retention in a backup run merges directory chains and keeps the newest points restorable', async () => {
    const remote = temp();
    cpSync(base, remote, { recursive: true });
    const ref = (await resolveVms(xapi, ['dm'])).selected[0]!.ref;
    sim.control.guestWrite(vmUuid(), 0.05, 90);
    const r = await runDeltaBackup(
      xapi,
      ref,
      testBackupOptions(remote, temp(), { jobId: JOB, useVhdDirectory: true, retention: { keep: 2 } }),
    );
    const now = await sim.control.hashVdi(diskUuid());
    const ids = [...truth.keys()];
    const kept = [ids[2]!, r.pointId];
    expect((await listBackupPoints(remote)).points.map((p) => p.id)).toEqual(kept);
    expect(await pointDigest(remote, ids[2]!)).toBe(truth.get(ids[2]!));
    expect(await pointDigest(remote, r.pointId)).toBe(now);
    const l = layout(remote);
    expect(l.aliases).toEqual(kept.map((id) => `${id}.alias.vhd`));
    expect(l.data).toHaveLength(2);
    expect(l.other).toEqual([]);
    const check = await runCli(['check', '--remote', remote, '--json']);
    expect(problemKinds(check.stdout)).toEqual([]);
  });

  it.each(['1', 'state-written:3', 'dir-footer-written', 'dir-alias-swapped', 'dir-parent-alias-removed'])(
    'killed (SIGKILL) at %s: every point left restores, check names the merge, --repair finishes it, nothing is left',
    async (stop) => {
      const remote = temp();
      cpSync(base, remote, { recursive: true });
      const [oldest, second, third] = [...truth.keys()] as [string, string, string];
      const frozen = await killMergeAt(remote, vmUuid(), oldest, stop, { aliases: true });
      expect(frozen).toMatch(/^frozen /);
      await expectRestorable(remote, [second, third]);
      const check = await runCli(['check', '--remote', remote, '--json']);
      expect(problemKinds(check.stdout)).toEqual(['unfinished-merge']);
      const repair = await runCli(['check', '--remote', remote, '--repair', '--json']);
      expect(repair.stderr).toBe('');
      expect(checkJson(repair.stdout).find((e) => e.type === 'summary')).toMatchObject({ remaining: 0 });
      expect(problemKinds((await runCli(['check', '--remote', remote, '--json'])).stdout)).toEqual([]);
      expect(layout(remote)).toEqual({
        aliases: [`${second}.alias.vhd`, `${third}.alias.vhd`],
        data: [`${oldest}.vhd`, `${third}.vhd`],
        other: [],
      });
      await expectRestorable(remote, [second, third]);
    },
  );
});
