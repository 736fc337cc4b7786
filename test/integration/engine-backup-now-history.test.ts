import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountThrottled, throttledMountAvailable, type ThrottledMount } from '../../bench/lib/throttled-mount.js';
import type { EventPayload } from '../../src-shared/contract/index.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { Dashboard } from '../../src-shared/contract/dashboard.js';
import type { RunRecord, RunSummary } from '../../src-shared/contract/runs.js';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import { callEngine } from '../helpers/engine.js';
import { MiB } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';

// "Back up now" runs are recorded in the same history as job runs: after a restart (a new engine on the same
// data dir) they are in runs.list with their samples (buffer and phase included) and in the dashboard.
const env = withSimulator(
  {
    vms: [
      haltedVm('web01', { system: [16 * MiB, 6 * MiB], data: [8 * MiB, 2 * MiB] }),
      haltedVm('app01', { disk: [8 * MiB, 8 * MiB] }),
      {
        name: 'scratch',
        powerState: 'Halted',
        tags: ['xo:no-bak'],
        disks: [{ name: 'scratch disk', size: 8 * MiB, allocated: 1 * MiB }],
      },
    ],
  },
  { session: false },
);
let dataDir: string;
const engines: NodeEngine[] = [];
const temps: Array<() => void> = [];
const fuse = throttledMountAvailable();

beforeAll(() => {
  dataDir = env.temp();
});
afterAll(async () => {
  for (const e of engines) await e.close();
  temps.forEach((c) => c());
});

function engine(): NodeEngine {
  const e = createNodeEngine({ dataDir, transport: 'websocket' });
  engines.push(e);
  return e;
}

/** Runs "Back up now" on one VM to completion, returning its result and every live progress sample. */
async function backUpNow(
  e: NodeEngine,
  body: { hostId: string; vm: string; remoteId: string; mode: 'full' | 'delta' },
) {
  const live: TransferProgress[] = [];
  const finished: Array<EventPayload<'backup.finished'>> = [];
  const offs = [
    e.ctx.bus.on('backup.progress', (p) => live.push(p)),
    e.ctx.bus.on('backup.finished', (f) => finished.push(f)),
  ];
  try {
    const { runId } = await callEngine<{ runId: string }>(e, 'backup.start', {
      hostId: body.hostId,
      vmUuids: [env.sim.control.vmUuidByName(body.vm)],
      remoteId: body.remoteId,
      mode: body.mode,
    });
    await expect.poll(() => finished.find((f) => f.runId === runId), { timeout: 60_000 }).toBeTruthy();
    return { runId, result: finished.find((f) => f.runId === runId)!, live: live.filter((p) => p.runId === runId) };
  } finally {
    offs.forEach((off) => off());
  }
}

/** Each stored sample was taken from a live one: same transfer, bytes and phase, and the same buffer. */
function expectSamplesFromLive(record: RunRecord, live: TransferProgress[]) {
  expect(record.samples.length).toBeGreaterThan(0);
  for (const s of record.samples) {
    expect(s.memoryBytes).toEqual(expect.any(Number));
    expect(s.spoolBytes).toEqual(expect.any(Number));
    expect(s.phase).toEqual(expect.any(String));
    const twin = live.find(
      (p) =>
        p.vm.uuid === s.vmUuid &&
        (p.disk?.uuid ?? null) === s.diskUuid &&
        p.bytesWritten === s.bytesWritten &&
        p.phase === s.phase &&
        p.memoryBytes === s.memoryBytes &&
        p.spoolBytes === s.spoolBytes &&
        p.spoolCapBytes === s.spoolCapBytes,
    );
    expect(twin, `a live sample like ${JSON.stringify(s)}`).toBeDefined();
  }
}

describe('"Back up now" in the run history', () => {
  let hostId: string;

  it('a run is listed after a restart, with its VM result, its samples and its pool, and on the dashboard', async () => {
    const first = engine();
    hostId = (
      await callEngine<{ id: string }>(first, 'hosts.add', {
        url: env.sim.url,
        username: env.sim.username,
        password: env.sim.password,
        trustedFingerprint: env.sim.fingerprint,
      })
    ).id;
    const dir = makeTempDir();
    temps.push(dir.cleanup);
    const remote = await callEngine<{ id: string }>(first, 'remotes.add', { name: 'nas', path: dir.dir });
    const { runId, result, live } = await backUpNow(first, { hostId, vm: 'web01', remoteId: remote.id, mode: 'delta' });
    expect(result.ok).toBe(true);
    // Recorded before backup.finished was said: already in this engine's history.
    expect((await callEngine<RunSummary[]>(first, 'runs.list', {})).map((r) => r.runId)).toContain(runId);
    await first.close();

    const second = engine();
    const runs = await callEngine<RunSummary[]>(second, 'runs.list', {});
    const run = runs.find((r) => r.runId === runId)!;
    expect(run).toMatchObject({
      jobId: null,
      jobName: 'Back up now: web01',
      hostId,
      trigger: 'manual',
      status: 'success',
      mode: 'delta',
      remotes: [{ id: remote.id, name: 'nas' }],
    });
    expect(run.vms).toMatchObject([
      {
        vmName: 'web01',
        remoteId: remote.id,
        status: 'success',
        pointId: result.vms[0]!.pointId,
        bytes: result.vms[0]!.bytes,
      },
    ]);
    expect(run.vms[0]!.disks.map((d) => d.name).sort()).toEqual(['web01 data', 'web01 system']);
    const record = await callEngine<RunRecord>(second, 'runs.get', { runId });
    expectSamplesFromLive(record, live);
    const d = await callEngine<Dashboard>(second, 'dashboard.get', {});
    expect(d.lastRuns.map((r) => [r.runId, r.status, r.jobName])).toContainEqual([
      runId,
      'success',
      'Back up now: web01',
    ]);
    // A job's own history is not mixed with "Back up now" runs.
    expect(await callEngine<RunSummary[]>(second, 'runs.list', { jobId: 'some-job' })).toEqual([]);
  });

  it('a run that backed nothing up is recorded as failed, in words with a hint', async () => {
    const e = engine();
    const dir = makeTempDir();
    temps.push(dir.cleanup);
    const remote = await callEngine<{ id: string }>(e, 'remotes.add', { name: 'nas2', path: dir.dir });
    const { runId, result } = await backUpNow(e, { hostId, vm: 'scratch', remoteId: remote.id, mode: 'full' });
    expect(result.ok).toBe(false);
    const run = (await callEngine<RunSummary[]>(engine(), 'runs.list', { limit: 10 })).find((r) => r.runId === runId)!;
    expect(run).toMatchObject({ jobId: null, jobName: 'Back up now: scratch', status: 'failed', vms: [] });
    expect(run.warnings[0]!.message).toMatch(/^Skipped scratch: .*xo:no-bak/);
    expect(run.errors).toEqual([
      {
        code: 'VALIDATION',
        message: expect.stringMatching(/^Nothing was backed up: scratch \(/),
        hint: 'Pick a VM that backups do not exclude.',
      },
    ]);
  });

  it.skipIf(!fuse.ok)('a slow destination: the stored samples keep the bytes the buffer held', async () => {
    const e = engine();
    const backing = makeTempDir('sluice-backing-');
    const mnt = makeTempDir('sluice-mnt-');
    temps.push(backing.cleanup, mnt.cleanup);
    let mount: ThrottledMount | undefined;
    try {
      // The host sends as fast as it can; the remote takes 2 MiB/s: the buffer fills while the run goes.
      mount = await mountThrottled({
        backingDir: backing.dir,
        mountPoint: path.join(mnt.dir, 'nas'),
        rateBytesPerSec: 2 * MiB,
      });
      const remote = await callEngine<{ id: string }>(e, 'remotes.add', { name: 'slow', path: mount.mountPoint });
      const { runId, result, live } = await backUpNow(e, { hostId, vm: 'app01', remoteId: remote.id, mode: 'full' });
      expect(result.ok).toBe(true);
      expect(live.some((p) => p.memoryBytes + p.spoolBytes > 0)).toBe(true);
      const record = await callEngine<RunRecord>(engine(), 'runs.get', { runId });
      expectSamplesFromLive(record, live);
      expect(record.samples.some((s) => (s.memoryBytes ?? 0) + (s.spoolBytes ?? 0) > 0)).toBe(true);
      expect(record.samples.some((s) => s.phase === 'transfer')).toBe(true);
    } finally {
      await mount?.unmount();
    }
  });
});
