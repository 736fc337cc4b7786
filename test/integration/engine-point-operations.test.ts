import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload, ResponseOf } from '../../src-shared/contract/index.js';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import { XvaStreamVerifier } from '../../src-main/formats/xva/xva-stream-verifier.js';
import type { SimHandle } from '../../src-sim/index.js';
import { hostObjects } from '../helpers/restore.js';
import { callEngine } from '../helpers/engine.js';
import { MiB, smallPool } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// Restore, export and verify through the IPC channels the Backups view uses, against the simulated pool.
let sim: SimHandle;
let engine: NodeEngine;
let hostId: string;
let remoteId: string;
let point: ResponseOf<'backups.list'>['points'][number];
const temps: Array<() => void> = [];
const finished: Array<EventPayload<'operations.finished'>> = [];
const progress: Array<EventPayload<'backup.progress'>> = [];

function temp(): string {
  const t = makeTempDir();
  temps.push(t.cleanup);
  return t.dir;
}

const call = <T>(channel: string, payload: unknown): Promise<T> => callEngine<T>(engine, channel, payload);

async function outcome(operationId: string): Promise<EventPayload<'operations.finished'>> {
  await expect.poll(() => finished.find((f) => f.operationId === operationId), { timeout: 60_000 }).toBeTruthy();
  return finished.find((f) => f.operationId === operationId)!;
}

beforeAll(async () => {
  sim = await smallPool();
  engine = createNodeEngine({ dataDir: temp(), transport: 'websocket' });
  engine.ctx.bus.on('operations.finished', (f) => finished.push(f));
  engine.ctx.bus.on('backup.progress', (p) => progress.push(p));
  hostId = (
    await call<{ id: string }>('hosts.add', {
      url: sim.url,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: sim.fingerprint,
    })
  ).id;
  remoteId = (await call<{ id: string }>('remotes.add', { name: 'ops', path: temp() })).id;
  const done = new Promise<EventPayload<'backup.finished'>>((resolve) => engine.ctx.bus.on('backup.finished', resolve));
  await call<{ runId: string }>('backup.start', {
    hostId,
    vmUuids: [sim.control.vmUuidByName('web01')],
    remoteId,
    mode: 'full',
  });
  if (!(await done).ok) throw new Error('the backup the tests need failed');
  point = (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points[0]!;
}, 120_000);

afterAll(async () => {
  await engine?.close();
  await sim?.stop();
  temps.forEach((c) => c());
});

describe('points.restore / points.export / points.verify / operations.cancel', () => {
  it('restores a point as a new VM with the chosen name, progress tagged with the operation id', async () => {
    const vmsBefore = Object.values(sim.control.records('VM')).filter(
      (v) => v.name_label === 'web01 (restored by IPC)',
    ).length;
    const { operationId } = await call<{ operationId: string }>('points.restore', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      hostId,
      name: 'web01 (restored by IPC)',
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({
      kind: 'restore',
      ok: true,
      cancelled: false,
      error: null,
      vm: { uuid: point.vmUuid, name: 'web01' },
      pointId: point.id,
    });
    expect(f.result).toMatchObject({ kind: 'restore', name: 'web01 (restored by IPC)', started: false });
    const restored = Object.values(sim.control.records('VM')).filter((v) => v.name_label === 'web01 (restored by IPC)');
    expect(restored).toHaveLength(vmsBefore + 1);
    const r = f.result!;
    expect(r.kind === 'restore' && restored.some((v) => v.uuid === r.vmUuid)).toBe(true);
    expect(progress.some((p) => p.runId === operationId && p.phase === 'transfer')).toBe(true);
  });

  it('restores one disk of a point as a new VDI on the chosen SR, attached to nothing; a disk the point lacks is refused at its field', async () => {
    const srs = sim.control.records('SR');
    const local = Object.values(srs).find((r) => r.name_label === 'Local storage')!;
    const data = Object.values(sim.control.records('VDI')).find(
      (v) => v.name_label === 'web01 data' && v.is_a_snapshot !== true,
    )!;
    const { operationId } = await call<{ operationId: string }>('points.restoreDisk', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      hostId,
      disk: '1',
      srUuid: String(local.uuid),
      name: 'web01 data (IPC)',
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({ kind: 'restore', ok: true, error: null });
    expect(f.result).toMatchObject({
      kind: 'restore-disk',
      name: 'web01 data (IPC)',
      position: '1',
      diskName: 'web01 data',
      srUuid: local.uuid,
      srName: 'Local storage',
    });
    const r = f.result!;
    if (r.kind !== 'restore-disk') throw new Error('not a disk restore');
    const vdis = sim.control.records('VDI');
    const ref = Object.keys(vdis).find((k) => vdis[k]!.uuid === r.vdiUuid)!;
    expect(vdis[ref]).toMatchObject({
      name_label: 'web01 data (IPC)',
      virtual_size: data.virtual_size,
      SR: Object.keys(srs).find((k) => srs[k] === local),
    });
    expect(Object.values(sim.control.records('VBD')).some((b) => b.VDI === ref)).toBe(false);
    expect(await sim.control.hashVdi(r.vdiUuid)).toBe(await sim.control.hashVdi(String(data.uuid)));
    expect(
      progress.some((p) => p.runId === operationId && p.disk?.name === 'web01 data' && p.phase === 'transfer'),
    ).toBe(true);

    const before = hostObjects(sim);
    const bad = await engine.dispatcher.dispatch('points.restoreDisk', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      hostId,
      disk: '7',
    });
    expect(bad).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', message: expect.stringContaining('has no disk "7"'), issues: [{ path: 'disk' }] },
    });
    expect(hostObjects(sim)).toEqual(before);
  });

  it("exports one disk as raw (a file of the disk's exact content) and refuses a disk with an XVA", async () => {
    const out = path.join(temp(), 'web01-data.raw');
    const { operationId } = await call<{ operationId: string }>('points.export', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      format: 'raw',
      outPath: out,
      disk: '1',
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({ kind: 'export', ok: true, result: { kind: 'export', files: [{ path: out }] } });
    const data = Object.values(sim.control.records('VDI')).find(
      (v) => v.name_label === 'web01 data' && v.is_a_snapshot !== true,
    )!;
    expect(statSync(out).size).toBe(Number(data.virtual_size));
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(
      await sim.control.hashVdi(String(data.uuid)),
    );
    const xva = await engine.dispatcher.dispatch('points.export', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      format: 'xva',
      outPath: path.join(temp(), 'x.xva'),
      disk: '1',
    });
    expect(xva).toMatchObject({ ok: false, error: { code: 'VALIDATION', issues: [{ path: 'disk' }] } });
  });

  it("lists a point's disks for the restore dialog", async () => {
    const d = await call<ResponseOf<'points.disks'>>('points.disks', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
    });
    expect(d.perDiskSr).toBe(true); // a full point too: its disks are moved after the import
    expect(d.disks.length).toBeGreaterThan(0);
    expect(d.disks.every((x) => /^\d+$/.test(x.position) && x.virtualSize > 0)).toBe(true);
  });

  it('lists no disks for a zstd full point (the whole VM restores onto one SR), instead of failing the dialog', async () => {
    const zRemote = (await call<{ id: string }>('remotes.add', { name: 'zstd', path: temp() })).id;
    const done = new Promise<EventPayload<'backup.finished'>>((resolve) =>
      engine.ctx.bus.on('backup.finished', resolve),
    );
    await call<{ runId: string }>('backup.start', {
      hostId,
      vmUuids: [sim.control.vmUuidByName('web01')],
      remoteId: zRemote,
      mode: 'full',
      compression: 'zstd',
    });
    expect((await done).ok).toBe(true);
    const z = (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId: zRemote })).points[0]!;
    expect(
      await call<ResponseOf<'points.disks'>>('points.disks', { remoteId: zRemote, vmUuid: z.vmUuid, pointId: z.id }),
    ).toEqual({ perDiskSr: false, disks: [] });
  });

  it('verifies a point: ok, with the bytes read and a verify phase', async () => {
    const { operationId } = await call<{ operationId: string }>('points.verify', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({ kind: 'verify', ok: true, error: null });
    expect(f.result!.kind === 'verify' && f.result!.bytes).toBeGreaterThan(0);
    expect(progress.some((p) => p.runId === operationId && p.phase === 'verify')).toBe(true);
  });

  it('exports an XVA to a file that exists and verifies', async () => {
    const out = path.join(temp(), 'web01.xva');
    const { operationId } = await call<{ operationId: string }>('points.export', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      format: 'xva',
      outPath: out,
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({ kind: 'export', ok: true, result: { kind: 'export', files: [{ path: out }] } });
    expect(existsSync(out)).toBe(true);
    const verifier = await XvaStreamVerifier.create();
    for await (const c of createReadStream(out)) verifier.update(c as Buffer);
    expect(verifier.finish().disks.length).toBeGreaterThan(0);
    // The same path again: refused at the field, the first export untouched.
    const size = statSync(out).size;
    const again = await engine.dispatcher.dispatch('points.export', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      format: 'xva',
      outPath: out,
    });
    expect(again).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION', issues: [{ path: 'outPath', message: expect.stringContaining('already exists') }] },
    });
    expect(statSync(out).size).toBe(size);
  });

  it('refuses a relative output path at its field, and an unknown point in words, before any work', async () => {
    const rel = await engine.dispatcher.dispatch('points.export', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: point.id,
      format: 'xva',
      outPath: 'out.xva',
    });
    expect(rel).toMatchObject({ ok: false, error: { code: 'VALIDATION', issues: [{ path: 'outPath' }] } });
    const missing = await engine.dispatcher.dispatch('points.verify', {
      remoteId,
      vmUuid: point.vmUuid,
      pointId: '19990101T000000Z',
    });
    expect(missing).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', message: expect.stringContaining('No backup point 19990101T000000Z') },
    });
  });

  it('cancel stops a restore: reported as cancelled, nothing left on the host', async () => {
    await call('settings.updatePreferences', { defaultSpeedLimitBytesPerSec: 1 * MiB });
    try {
      const before = hostObjects(sim);
      const { operationId } = await call<{ operationId: string }>('points.restore', {
        remoteId,
        vmUuid: point.vmUuid,
        pointId: point.id,
        hostId,
        name: 'cancelled restore',
      });
      await expect
        .poll(() => progress.some((p) => p.runId === operationId && p.bytesWritten > 0), { timeout: 30_000 })
        .toBe(true);
      expect(await call('operations.cancel', { operationId })).toEqual({ cancelled: true });
      const f = await outcome(operationId);
      expect(f).toMatchObject({
        kind: 'restore',
        ok: false,
        cancelled: true,
        result: null,
        error: { code: 'CANCELLED' },
      });
      await expect.poll(() => hostObjects(sim), { timeout: 10_000 }).toEqual(before);
      expect(await call('operations.cancel', { operationId })).toEqual({ cancelled: false });
    } finally {
      await call('settings.updatePreferences', { defaultSpeedLimitBytesPerSec: null });
    }
  });
});

describe('points.delete', () => {
  async function deltaPoints(vm: string, n: number) {
    for (let i = 0; i < n; i++) {
      const done = new Promise<EventPayload<'backup.finished'>>((resolve) =>
        engine.ctx.bus.on('backup.finished', resolve),
      );
      if (i > 0) sim.control.guestWrite(sim.control.vmUuidByName(vm), 0.05, 100 + i);
      await call('backup.start', { hostId, vmUuids: [sim.control.vmUuidByName(vm)], remoteId, mode: 'delta' });
      if (!(await done).ok) throw new Error('a delta backup the test needs failed');
    }
    return (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points.filter(
      (p) => p.vmName === vm && p.mode === 'delta',
    );
  }

  it('deletes a delta point by merging it into the next (merge phase shown); the others still verify', async () => {
    const points = await deltaPoints('db01', 3);
    expect(points).toHaveLength(3);
    // Each point's place in its chain, read from the VHDs: the base, then its deltas.
    const base = { basePointId: points[0]!.id, baseTimestamp: points[0]!.timestamp, length: 3, uniform: true };
    expect(points.map((p) => p.chain)).toEqual([
      { kind: 'base', length: 3 },
      { kind: 'delta', position: 2, ...base },
      { kind: 'delta', position: 3, ...base },
    ]);
    expect(
      (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points.find((p) => p.mode === 'full')!
        .chain,
    ).toEqual({ kind: 'standalone' });
    const { operationId } = await call<{ operationId: string }>('points.delete', {
      remoteId,
      vmUuid: points[0]!.vmUuid,
      pointId: points[0]!.id,
    });
    const f = await outcome(operationId);
    expect(f).toMatchObject({ kind: 'delete', ok: true, error: null, result: { kind: 'delete', mode: 'delta' } });
    expect(f.result!.kind === 'delete' && f.result!.merged).toBeGreaterThan(0);
    expect(progress.some((p) => p.runId === operationId && p.phase === 'merge')).toBe(true);
    const left = (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points.filter(
      (p) => p.vmName === 'db01',
    );
    expect(left.map((p) => p.id)).toEqual(points.slice(1).map((p) => p.id));
    // The merged point is the chain's base now (its metadata still says differencing: the files decide).
    expect(left.map((p) => p.chain)).toEqual([
      { kind: 'base', length: 2 },
      {
        kind: 'delta',
        position: 2,
        length: 2,
        basePointId: points[1]!.id,
        baseTimestamp: points[1]!.timestamp,
        uniform: true,
      },
    ]);
    for (const p of left) {
      const v = await call<{ operationId: string }>('points.verify', { remoteId, vmUuid: p.vmUuid, pointId: p.id });
      expect(await outcome(v.operationId)).toMatchObject({ ok: true });
    }
  });

  it('deletes a full point whole, and refuses an unknown one', async () => {
    const full = (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points.find(
      (p) => p.mode === 'full',
    )!;
    const { operationId } = await call<{ operationId: string }>('points.delete', {
      remoteId,
      vmUuid: full.vmUuid,
      pointId: full.id,
    });
    expect(await outcome(operationId)).toMatchObject({ ok: true, result: { kind: 'delete', mode: 'full' } });
    const after = (await call<ResponseOf<'backups.list'>>('backups.list', { remoteId })).points;
    expect(after.some((p) => p.id === full.id && p.vmUuid === full.vmUuid)).toBe(false);
    await expect(call('points.delete', { remoteId, vmUuid: full.vmUuid, pointId: full.id })).rejects.toThrow(
      /NOT_FOUND/,
    );
  });
});
