import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EventPayload } from '../../src-shared/contract/index.js';
import { withEngine } from '../helpers/engine.js';

// The engine as the UI drives it: add a pool, get its live inventory, run a backup with progress events.
const env = withEngine();
const { call, temp } = env;

describe('engine: pools, inventory and backup runs', () => {
  let hostId: string;

  it('keeps a live inventory of the pool and sends changes as events', async () => {
    const host = await env.addHost();
    hostId = host.id;
    const inv = await call<EventPayload<'inventory.changed'>['inventory']>('inventory.get', { hostId });
    expect(inv.pool?.name).toBeTruthy();
    expect(inv.vms.map((v) => v.name)).toEqual(['db01', 'scratch', 'web01']);
    const web = inv.vms.find((v) => v.name === 'web01')!;
    expect(web.disks.map((d) => d.name)).toEqual(['web01 system', 'web01 data']);
    expect(inv.vms.find((v) => v.name === 'scratch')!.tags).toContain('xo:no-bak');
    expect(inv.srs.length).toBeGreaterThan(0);

    const changes: Array<EventPayload<'inventory.changed'>> = [];
    const off = env.engine.ctx.bus.on('inventory.changed', (e) => changes.push(e));
    env.sim.control.setPowerState(env.sim.control.vmUuidByName('web01'), 'Running');
    await expect
      .poll(() => changes.at(-1)?.inventory.vms.find((v) => v.name === 'web01')?.powerState, { timeout: 10_000 })
      .toBe('Running');
    env.sim.control.setPowerState(env.sim.control.vmUuidByName('web01'), 'Halted');
    await expect
      .poll(() => changes.at(-1)?.inventory.vms.find((v) => v.name === 'web01')?.powerState, { timeout: 10_000 })
      .toBe('Halted');
    off();
    expect((await call<Array<{ state: string }>>('hosts.connectionStates', {}))[0]!.state).toBe('connected');
  });

  it('tests a remote: writable, free space, write speed; and refuses a missing one', async () => {
    const dir = temp();
    const remote = await call<{ id: string }>('remotes.add', { name: 'local', path: dir });
    const t = await call<{ freeBytes: number; writeBytesPerSec: number; testedBytes: number }>('remotes.test', {
      id: remote.id,
    });
    expect(t.freeBytes).toBeGreaterThan(0);
    expect(t.writeBytesPerSec).toBeGreaterThan(0);
    expect(t.testedBytes).toBeGreaterThan(0);
    const gone = await call<{ id: string }>('remotes.add', { name: 'gone', path: `${dir}/nope/deeper` });
    const r = await env.engine.dispatcher.dispatch('remotes.test', { id: gone.id });
    expect(r).toMatchObject({ ok: false, error: { code: 'REMOTE_ERROR' } });
    expect(r.ok || r.error.hint).toMatch(/mounted/);
  });

  it('refuses "Back up now" to a remote that is not there in the words the CLI uses, creating nothing', async () => {
    const missing = `${temp()}/nas-not-mounted`;
    const remote = await call<{ id: string }>('remotes.add', { name: 'unmounted', path: missing });
    const r = await env.engine.dispatcher.dispatch('backup.start', {
      hostId,
      vmUuids: [env.sim.control.vmUuidByName('web01')],
      remoteId: remote.id,
      mode: 'full',
    });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', message: `The remote ${missing} does not exist.` },
    });
    expect(r.ok || r.error.hint).toMatch(/share is mounted/);
    expect(existsSync(missing)).toBe(false);
  });

  it('runs a backup from the contract, with progress events and a result, and cancels another', async () => {
    const dir = temp();
    const remote = await call<{ id: string }>('remotes.add', { name: 'runs', path: dir });
    const progress: Array<EventPayload<'backup.progress'>> = [];
    const finished: Array<EventPayload<'backup.finished'>> = [];
    const offP = env.engine.ctx.bus.on('backup.progress', (p) => progress.push(p));
    const offF = env.engine.ctx.bus.on('backup.finished', (f) => finished.push(f));
    const uuids = ['web01', 'scratch'].map((n) => env.sim.control.vmUuidByName(n));
    const { runId } = await call<{ runId: string }>('backup.start', {
      hostId,
      vmUuids: uuids,
      remoteId: remote.id,
      mode: 'full',
    });
    await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 30_000 }).toBeTruthy();
    const done = finished.find((f) => f.runId === runId)!;
    expect(done).toMatchObject({ ok: true, cancelled: false });
    expect(done.vms.map((v) => v.vmName)).toEqual(['web01']);
    expect(progress.filter((p) => p.runId === runId).map((p) => p.phase)).toContain('transfer');

    env.sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 1024 * 1024 });
    try {
      const second = await call<{ runId: string }>('backup.start', {
        hostId,
        vmUuids: [uuids[0]!],
        remoteId: remote.id,
        mode: 'full',
      });
      await expect
        .poll(() => progress.some((p) => p.runId === second.runId && p.phase === 'transfer' && p.bytesRead > 0), {
          timeout: 10_000,
        })
        .toBe(true);
      expect(await call('backup.cancel', { runId: second.runId })).toEqual({ cancelled: true });
      await expect.poll(() => finished.find((f) => f.runId === second.runId), { timeout: 20_000 }).toBeTruthy();
      expect(finished.find((f) => f.runId === second.runId)).toMatchObject({ ok: false, cancelled: true });
    } finally {
      env.sim.control.clearFaults();
      offP();
      offF();
    }
    expect(Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true)).toEqual([]);
  });
});
