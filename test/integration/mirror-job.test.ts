import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src-shared/contract/jobs.js';
import type { RunRecord, RunSummary } from '../../src-shared/contract/runs.js';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import { listBackupPoints } from '../../src-main/repository/repository-reader.js';
import { withSimulator } from '../helpers/simulator-suite.js';

// Issue 17: a mirror job copies one remote's points to others on a schedule, with its own retention, its run
// recorded per VM and target like a backup's; no host is involved.

const env = withSimulator(undefined, { session: false });
let e: NodeEngine;
let nas: { id: string; path: string };
let offsite: { id: string; path: string };
let backupJob: Job;
const finished: RunSummary[] = [];

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const r = await e.dispatcher.dispatch(channel, payload);
  if (!r.ok) throw Object.assign(new Error(`${r.error.code}: ${r.error.message}`), { ipc: r.error });
  return r.value as T;
}

async function runToEnd(jobId: string): Promise<RunRecord> {
  const { runId } = await call<{ runId: string }>('jobs.runNow', { id: jobId });
  // Also used before the tests (expect.poll is for tests only): the end comes as an event.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`run ${runId} did not end within 120 s`)), 120_000);
    const check = () => {
      if (finished.some((r) => r.runId === runId)) {
        clearTimeout(timer);
        resolve();
      } else setTimeout(check, 50);
    };
    check();
  });
  return call<RunRecord>('runs.get', { runId });
}

const ids = async (root: string) =>
  (await listBackupPoints(root)).points.map((p) => `${p.vmName} ${p.id} ${p.mode}`).sort();

beforeAll(async () => {
  e = createNodeEngine({
    dataDir: env.temp(),
    transport: 'websocket',
    jobs: { retry: { attempts: 2, backoffMs: () => 20 } },
  });
  e.ctx.bus.on('runs.finished', (r) => finished.push(r));
  const host = await call<{ id: string }>('hosts.add', {
    url: env.sim.url,
    username: env.sim.username,
    password: env.sim.password,
    trustedFingerprint: env.sim.fingerprint,
  });
  nas = { path: env.temp(), id: '' };
  nas.id = (await call<{ id: string }>('remotes.add', { name: 'nas', path: nas.path })).id;
  offsite = { path: env.temp(), id: '' };
  offsite.id = (await call<{ id: string }>('remotes.add', { name: 'offsite', path: offsite.path })).id;
  await e.ctx.settings.update((s) => void (s.preferences.spoolDir = env.temp()));
  backupJob = await call<Job>('jobs.save', {
    name: 'nightly',
    hostId: host.id,
    vms: { kind: 'pool' },
    mode: 'delta',
    remoteIds: [nas.id],
    schedules: [{ name: 'daily', cron: '0 2 * * *', timezone: 'UTC', retention: { keep: 7 } }],
  });
  for (let i = 0; i < 3; i++) expect((await runToEnd(backupJob.id)).status).toBe('success');
}, 240_000);

afterAll(async () => {
  await e?.close();
});

describe('mirror jobs', () => {
  it('copies the points the targets lack, keeps what their retention says, and records the run per VM', async () => {
    const mirror = await call<Job>('jobs.save', {
      name: 'offsite copy',
      mirrorFrom: nas.id,
      vms: { kind: 'pool' },
      mode: 'delta',
      remoteIds: [offsite.id],
      schedules: [{ name: 'weekly', cron: '0 4 * * 0', timezone: 'UTC', retention: { keep: 2 } }],
    });
    expect(mirror).toMatchObject({ mirrorFrom: nas.id });
    expect(mirror.hostId).toBeUndefined();
    const source = await ids(nas.path);

    const run = await runToEnd(mirror.id);
    expect(run).toMatchObject({ status: 'success', jobName: 'offsite copy', mirrorFrom: { id: nas.id, name: 'nas' } });
    expect(run.remotes).toEqual([{ id: offsite.id, name: 'offsite' }]);
    const vms = [...new Set(source.map((s) => s.split(' ')[0]))].sort();
    expect(run.vms.map((v) => [v.vmName, v.status]).sort()).toEqual(vms.map((n) => [n, 'success']));
    for (const v of run.vms) {
      expect(v.bytes).toBeGreaterThan(0);
      expect(v.pointId).toMatch(/^\d{8}T\d{6}Z$/);
    }
    // The newest two of each VM; the source as it was.
    const newestTwo = vms.flatMap((vm) => source.filter((s) => s.startsWith(`${vm} `)).slice(-2));
    expect(await ids(offsite.path)).toEqual(newestTwo.sort());
    expect(await ids(nas.path)).toEqual(source);
    const jobs = await call<Array<{ id: string; lastRun: RunSummary | null }>>('jobs.list', {});
    expect(jobs.find((j) => j.id === mirror.id)?.lastRun?.status).toBe('success');

    // Nothing new on the source: the next run sends nothing and still succeeds.
    const again = await runToEnd(mirror.id);
    expect(again.status).toBe('success');
    expect(again.bytes).toBe(0);
    const { text } = await call<{ text: string }>('runs.summary', { runId: again.runId });
    expect(text).toContain('offsite copy');
  });

  it('refuses a mirror job that names a pool, copies to its own source, or picks VMs by tag', async () => {
    const r = await e.dispatcher.dispatch('jobs.save', {
      name: 'bad mirror',
      mirrorFrom: nas.id,
      hostId: backupJob.hostId,
      vms: { kind: 'tags', tags: ['backup'] },
      mode: 'delta',
      remoteIds: [offsite.id, nas.id],
      compression: 'zstd',
    });
    expect(r.ok).toBe(false);
    const paths = !r.ok ? (r.error.issues ?? []).map((i) => i.path).sort() : [];
    expect(paths).toEqual(['compression', 'hostId', 'remoteIds.1', 'vms'].sort());
    const unknown = await e.dispatcher.dispatch('jobs.save', {
      name: 'bad mirror',
      mirrorFrom: 'no-such-remote',
      vms: { kind: 'pool' },
      remoteIds: [offsite.id],
    });
    expect(!unknown.ok && unknown.error.issues?.map((i) => i.path)).toEqual(['mirrorFrom']);
  });

  it('a mirror whose target is gone fails that target, with what to do, and copies nothing', async () => {
    const gone = await call<{ id: string }>('remotes.add', { name: 'unmounted', path: env.temp() });
    const path = (await e.ctx.settings.get()).remotes.find((x) => x.id === gone.id)!.path;
    const { rmSync } = await import('node:fs');
    rmSync(path, { recursive: true, force: true });
    const mirror = await call<Job>('jobs.save', {
      name: 'to nowhere',
      mirrorFrom: nas.id,
      vms: { kind: 'pool' },
      mode: 'delta',
      remoteIds: [gone.id],
    });
    const run = await runToEnd(mirror.id);
    expect(run.status).toBe('failed');
    expect(run.vms.every((v) => v.status === 'failed' && /does not exist/.test(v.error?.message ?? ''))).toBe(true);
  });
});
