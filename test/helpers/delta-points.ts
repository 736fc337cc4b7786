import { cpSync, readdirSync } from 'node:fs';
import { beforeAll, expect } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { SimHandle } from '../../src-sim/index.js';
import { liveDisks, testBackupOptions } from './sim.js';
import type { SimulatorSuite } from './simulator-suite.js';
import { chainDigest, pointChain } from './vhd-chains.js';

// Incremental points with what each must restore to, for the suites that break a repository (kills, faults)
// and then check that every point left reads back as it was backed up.

export interface DeltaVm {
  sim: SimHandle;
  xapi: XapiSession;
  vm: string;
  jobId: string;
  /** A fresh scratch folder (spool) per backup. */
  temp: () => string;
}

/** The VM's first disk (the suites use one-disk VMs). */
export const firstDisk = (v: DeltaVm): string => liveDisks(v.sim, v.vm)[0]!.uuid;

/** `n` delta points of the VM in `remote`, the guest writing between them; returns each point's truth. */
export async function deltaPoints(
  v: DeltaVm,
  remote: string,
  n: number,
  seed: number,
  fraction = 0.2,
): Promise<Map<string, string>> {
  const truth = new Map<string, string>();
  const ref = (await resolveVms(v.xapi, [v.vm])).selected[0]!.ref;
  const vmUuid = v.sim.control.vmUuidByName(v.vm);
  for (let i = 0; i < n; i++) {
    if (i > 0) v.sim.control.guestWrite(vmUuid, fraction, seed + i);
    const r = await runDeltaBackup(v.xapi, ref, testBackupOptions(remote, v.temp(), { jobId: v.jobId }));
    truth.set(r.pointId, await v.sim.control.hashVdi(firstDisk(v)));
  }
  return truth;
}

/** Every point of `remote` reads back (through Sluice's chain resolution and reader) as `truth` has it. */
export async function expectPointsRestorable(
  remote: string,
  truth: Map<string, string>,
  vdiUuid: string,
): Promise<void> {
  const { points } = await listBackupPoints(remote);
  expect(points.length).toBeGreaterThan(0);
  for (const p of points) expect(await chainDigest(await pointChain(p, vdiUuid)), p.id).toBe(truth.get(p.id));
}

/** The JSON lines of a `--json` command's stdout. */
export function checkJson(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The kinds of the problems `sluice check --json` reported. */
export const problemKinds = (stdout: string): unknown[] =>
  checkJson(stdout)
    .filter((e) => e.type === 'problem')
    .map((e) => e.kind);

/** A disk folder's files but the block digests beside the VHDs (issue 6's `.vhd.checksum.json`). */
export const vhdFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => !n.endsWith('.checksum.json'))
    .sort();

/**
 * A clean repository of `points` delta points of one VM, made once before the file's tests (the guest writes
 * `fraction` of the disk after each backup, seeded `seed + i`); each call returns a fresh copy to damage.
 */
export function deltaRepositoryCopies(
  env: SimulatorSuite,
  o: { vm: string; jobId: string; seed: number; points?: number; fraction?: number },
): () => Promise<{ root: string; points: BackupPoint[] }> {
  let pristine: string;
  beforeAll(async () => {
    pristine = env.temp();
    const ref = await env.vmRef(o.vm);
    for (let i = 0; i < (o.points ?? 3); i++) {
      await runDeltaBackup(env.xapi, ref, testBackupOptions(pristine, env.temp(), { jobId: o.jobId }));
      env.sim.control.guestWrite(env.sim.control.vmUuidByName(o.vm), o.fraction ?? 0.05, o.seed + i);
    }
  });
  return async () => {
    const root = env.temp();
    cpSync(pristine, root, { recursive: true, preserveTimestamps: true });
    return { root, points: (await listBackupPoints(root)).points };
  };
}
