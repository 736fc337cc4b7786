import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MARKED_REMOTES_FILE, REMOTE_MARKER } from '../../src-main/remotes/remote-marker.js';
import { openExistingRemote } from '../../src-main/remotes/remote-registry.js';
import type { EventPayload } from '../../src-shared/contract/index.js';
import type { Job } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import { withEngine } from '../helpers/engine.js';

// Issue 17: "A share that is not mounted (the folder missing, or empty where a marker of the remote should be) is
// refused before anything is written, with the remote's name and what to do." An unmounted share's mount point
// is an empty folder on the local disk; here the remote's folder is emptied, which is what the engine then sees
// (test/integration/smb-share.test.ts does the same with a real Samba share unmounted under `sluice backup`).
const env = withEngine();

const snapshots = () => Object.values(env.sim.control.records('VM')).filter((v) => v.is_a_snapshot === true);

function empty(dir: string): void {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
}

async function backUpNow(hostId: string, remoteId: string): Promise<EventPayload<'backup.finished'>> {
  const finished: Array<EventPayload<'backup.finished'>> = [];
  const off = env.engine.ctx.bus.on('backup.finished', (f) => finished.push(f));
  try {
    const { runId } = await env.call<{ runId: string }>('backup.start', {
      hostId,
      vmUuids: [env.sim.control.vmUuidByName('db01')],
      remoteId,
      mode: 'full',
    });
    await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 60_000 }).toBeTruthy();
    return finished.find((f) => f.runId === runId)!;
  } finally {
    off();
  }
}

describe('a remote that is not mounted', () => {
  it('"Back up now" and a job refuse a marked remote that shows an empty folder, naming it and writing nothing', async () => {
    const host = await env.addHost();
    const dir = env.temp();
    await env.engine.ctx.settings.update((s) => void (s.preferences.spoolDir = env.temp()));
    const remote = await env.call<{ id: string }>('remotes.add', { name: 'nas', path: dir });

    // The first backup marks the remote, and the engine's data folder remembers it.
    const first = await backUpNow(host.id, remote.id);
    expect(first.ok, JSON.stringify(first.vms)).toBe(true);
    expect(existsSync(path.join(dir, REMOTE_MARKER))).toBe(true);
    const marked = JSON.parse(readFileSync(path.join(env.engine.ctx.dataDir, MARKED_REMOTES_FILE), 'utf8'));
    expect(Object.keys(marked.remotes)).toEqual([dir]);

    // Unmounted: the folder is there, empty.
    empty(dir);
    const refused = await env.engine.dispatcher.dispatch('backup.start', {
      hostId: host.id,
      vmUuids: [env.sim.control.vmUuidByName('db01')],
      remoteId: remote.id,
      mode: 'full',
    });
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe('NOT_FOUND');
    expect(refused.error.message).toContain(`The remote ${dir} looks unmounted`);
    expect(refused.error.message).toContain('the folder is empty');
    expect(refused.error.hint).toMatch(/^Mount the share/);
    expect(refused.error.context).toMatchObject({ remote: dir });
    expect(readdirSync(dir)).toEqual([]);
    expect(snapshots()).toEqual([]);
    // The Remotes view's Test says so too, instead of finding the empty local folder writable.
    await expect(env.call('remotes.test', { id: remote.id })).rejects.toThrow(
      `NOT_FOUND: The remote ${dir} looks unmounted`,
    );
    expect(readdirSync(dir)).toEqual([]);

    // A job to the same remote: its VMs fail with the same words, and nothing is written.
    const job = await env.call<Job>('jobs.save', {
      name: 'nightly',
      hostId: host.id,
      vms: { kind: 'vms', vmUuids: [env.sim.control.vmUuidByName('db01')] },
      mode: 'full',
      remoteIds: [remote.id],
      schedules: [{ name: 'daily', cron: '0 2 * * *', timezone: 'UTC', retention: { keep: 7 } }],
    });
    const done: RunSummary[] = [];
    env.engine.ctx.bus.on('runs.finished', (r) => done.push(r));
    const { runId } = await env.call<{ runId: string }>('jobs.runNow', { id: job.id });
    await expect.poll(() => done.find((r) => r.runId === runId), { timeout: 60_000 }).toBeTruthy();
    const run = done.find((r) => r.runId === runId)!;
    expect(run.status).toBe('failed');
    expect(run.vms.map((v) => v.error?.message)).toEqual([
      expect.stringContaining(`The remote ${dir} looks unmounted`),
    ]);
    expect(readdirSync(dir)).toEqual([]);
    expect(snapshots()).toEqual([]);

    // The remote emptied on purpose: the marker put back, as the hint says, and backups go on.
    writeFileSync(path.join(dir, REMOTE_MARKER), '');
    expect((await backUpNow(host.id, remote.id)).ok).toBe(true);
  });

  it('a missing folder is refused and never created; a remote never marked is taken as it is', async () => {
    const dataDir = env.temp();
    const gone = path.join(env.temp(), 'nas');
    await expect(openExistingRemote(gone, { dataDir, forWriting: true })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `The remote ${gone} does not exist.`,
      hint: expect.stringMatching(/that the share is mounted/),
    });
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(path.join(dataDir, MARKED_REMOTES_FILE))).toBe(false);
    // An empty folder Sluice never wrote to is a new remote: marked on its first write, then guarded.
    const fresh = env.temp();
    await openExistingRemote(fresh, { dataDir });
    expect(readdirSync(fresh)).toEqual([]); // reading marks nothing
    await openExistingRemote(`${fresh}/`, { dataDir, forWriting: true });
    expect(readdirSync(fresh)).toEqual([REMOTE_MARKER]);
    rmSync(path.join(fresh, REMOTE_MARKER));
    await expect(openExistingRemote(fresh, { dataDir })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Without the data folder (nothing remembered) the old rule alone applies.
    await expect(openExistingRemote(fresh)).resolves.toBeDefined();
  });
});
