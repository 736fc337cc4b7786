import { describe, expect, it } from 'vitest';
import type { EventPayload, ResponseOf } from '../../src-shared/contract/index.js';
import { withEngine } from '../helpers/engine.js';

// The channels the desktop UI added: a delta run from "Back up now", the points of a remote, its usage.
const env = withEngine();
const { call, temp } = env;

describe('engine channels for the UI: backups.list, remotes.usage, delta from backup.start', () => {
  it('an empty remote has no points and uses no repository bytes', async () => {
    const dir = temp();
    const remote = await call<{ id: string }>('remotes.add', { name: 'empty', path: dir });
    expect(await call('backups.list', { remoteId: remote.id })).toEqual({
      remoteId: remote.id,
      points: [],
      unreadable: [],
    });
    const u = await call<ResponseOf<'remotes.usage'>>('remotes.usage', { id: remote.id });
    expect(u).toMatchObject({ path: dir, repositoryBytes: 0, points: 0, vms: 0 });
    expect(u.totalBytes).toBeGreaterThanOrEqual(u.freeBytes!);
  });

  it('lists the points a full and a delta run made, and counts their bytes', async () => {
    const host = await env.addHost();
    const dir = temp();
    const remote = await call<{ id: string }>('remotes.add', { name: 'points', path: dir });
    const finished: Array<EventPayload<'backup.finished'>> = [];
    const off = env.engine.ctx.bus.on('backup.finished', (f) => finished.push(f));
    const web = env.sim.control.vmUuidByName('web01');
    try {
      for (const mode of ['full', 'delta'] as const) {
        const { runId } = await call<{ runId: string }>('backup.start', {
          hostId: host.id,
          vmUuids: [web],
          remoteId: remote.id,
          mode,
        });
        await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 30_000 }).toBeTruthy();
        expect(finished.find((f) => f.runId === runId)).toMatchObject({ ok: true });
      }
    } finally {
      off();
    }
    const list = await call<ResponseOf<'backups.list'>>('backups.list', { remoteId: remote.id });
    expect(list.points.map((p) => [p.vmName, p.mode])).toEqual([
      ['web01', 'full'],
      ['web01', 'delta'],
    ]);
    expect(list.points.every((p) => p.vmUuid === web && !Number.isNaN(Date.parse(p.timestamp)))).toBe(true);
    const u = await call<ResponseOf<'remotes.usage'>>('remotes.usage', { id: remote.id });
    expect(u).toMatchObject({ points: 2, vms: 1 });
    // The repository holds at least the XVA the full point wrote.
    expect(u.repositoryBytes).toBeGreaterThanOrEqual(list.points[0]!.size!);
  });

  it('an unknown remote is said in words', async () => {
    const r = await env.engine.dispatcher.dispatch('backups.list', { remoteId: 'nope' });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'That remote is no longer configured.' },
    });
  });
});
