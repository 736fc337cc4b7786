import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HostConnectionState, HostSummary } from '../../src-shared/contract/hosts.js';
import type { EventPayload } from '../../src-shared/contract/index.js';
import type { Job } from '../../src-shared/contract/jobs.js';
import type { RunSummary } from '../../src-shared/contract/runs.js';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import type { SimHandle } from '../../src-sim/index.js';
import { smallPool } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// A known pool whose certificate changed is approved again in place: same pool id, saved password and jobs;
// only the exact fingerprint the admin saw is accepted. A pool that jobs use cannot be removed under them.
let sim: SimHandle;
const { temp, cleanupAll } = tempDirs();
const engines: NodeEngine[] = [];
beforeAll(async () => {
  sim = await smallPool();
});
afterAll(async () => {
  for (const e of engines.splice(0)) await e.close();
  await sim?.stop();
  cleanupAll();
});

afterEach(() => sim.control.clearFaults());

function start(dataDir: string): NodeEngine {
  const e = createNodeEngine({ dataDir, transport: 'websocket' });
  engines.push(e);
  return e;
}

async function restart(e: NodeEngine, dataDir: string): Promise<NodeEngine> {
  engines.splice(engines.indexOf(e), 1);
  await e.close();
  return start(dataDir);
}

async function call<T>(e: NodeEngine, channel: string, payload: unknown): Promise<T> {
  const r = await e.dispatcher.dispatch(channel, payload);
  if (!r.ok) throw Object.assign(new Error(`${r.error.code}: ${r.error.message}`), { ipc: r.error });
  return r.value as T;
}

async function refusal(
  e: NodeEngine,
  channel: string,
  payload: unknown,
): Promise<{ code: string; message: string; hint?: string }> {
  const r = await e.dispatcher.dispatch(channel, payload);
  if (r.ok) throw new Error(`${channel} was accepted: ${JSON.stringify(r.value)}`);
  return r.error;
}

const stateOf = async (e: NodeEngine, hostId: string) =>
  (await call<HostConnectionState[]>(e, 'hosts.connectionStates', {})).find((s) => s.hostId === hostId);

describe('engine: a changed pool certificate approved in place', () => {
  it('accepts only the fingerprint presented now, keeps the pool id, password and jobs, and reconnects', async () => {
    const dataDir = temp();
    let e = start(dataDir);
    const original = sim.fingerprint;
    const host = await call<HostSummary>(e, 'hosts.add', {
      url: sim.url,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: original,
    });
    const remote = await call<{ id: string }>(e, 'remotes.add', { name: 'nas', path: temp() });
    const job = await call<Job>(e, 'jobs.save', {
      name: 'nightly',
      hostId: host.id,
      vms: { kind: 'pool' },
      mode: 'full',
      remoteIds: [remote.id],
      schedules: [],
    });
    expect((await call<{ vms: unknown[] }>(e, 'inventory.get', { hostId: host.id })).vms.length).toBeGreaterThan(0);

    // The host is reinstalled; Sluice starts again and refuses it.
    const first = await sim.control.rotateCertificate();
    e = await restart(e, dataDir);
    expect(await refusal(e, 'inventory.get', { hostId: host.id })).toMatchObject({ code: 'CERTIFICATE_CHANGED' });
    expect(await stateOf(e, host.id)).toMatchObject({ state: 'error', error: { code: 'CERTIFICATE_CHANGED' } });

    // While the admin reads the warning, the certificate changes again: the one they saw is not the one now.
    const second = await sim.control.rotateCertificate();
    expect(second).not.toBe(first);
    const stale = await refusal(e, 'hosts.approveCertificate', { hostId: host.id, fingerprint: first });
    expect(stale.code).toBe('CERTIFICATE_CHANGED');
    expect(stale.message).toContain(first);
    expect(stale.message).toContain(second);
    expect(stale.message).toMatch(/changed again.*Nothing was changed/);
    expect(stale.hint).toMatch(/console/);
    // A fingerprint that is not one is refused before any connection.
    expect(
      await refusal(e, 'hosts.approveCertificate', { hostId: host.id, fingerprint: 'not-a-fingerprint' }),
    ).toMatchObject({ code: 'VALIDATION' });
    expect(await refusal(e, 'hosts.approveCertificate', { hostId: 'no-such-pool', fingerprint: second })).toMatchObject(
      { code: 'NOT_FOUND' },
    );
    // Nothing changed: the old pin stays, the pool stays refused.
    expect((await call<HostSummary[]>(e, 'hosts.list', {})).map((h) => [h.id, h.trustedFingerprint])).toEqual([
      [host.id, original],
    ]);
    expect(e.ctx.settings.get().trustedCertificates[host.url]).toBe(original);
    expect(await stateOf(e, host.id)).toMatchObject({ state: 'error' });

    // The fingerprint presented now, written as an admin may copy it (lower case, no colons), is approved.
    const connection: Array<EventPayload<'hosts.connection'>> = [];
    const off = e.ctx.bus.on('hosts.connection', (s) => connection.push(s));
    const approved = await call<HostSummary>(e, 'hosts.approveCertificate', {
      hostId: host.id,
      fingerprint: second.replace(/:/g, '').toLowerCase(),
    });
    off();
    expect(approved).toMatchObject({ id: host.id, url: host.url, username: sim.username, trustedFingerprint: second });
    expect(connection.at(-1)).toMatchObject({ hostId: host.id, state: 'connected' });
    expect(await stateOf(e, host.id)).toMatchObject({ state: 'connected' });
    expect((await call<HostSummary[]>(e, 'hosts.list', {})).length).toBe(1);
    expect(e.ctx.settings.get().trustedCertificates[host.url]).toBe(second);
    const inv = await call<{ vms: Array<{ name: string }> }>(e, 'inventory.get', { hostId: host.id });
    expect(inv.vms.map((v) => v.name)).toContain('web01');

    // The job still names the pool, and runs with the saved password and the new pin.
    const jobs = await call<Job[]>(e, 'jobs.list', {});
    expect(jobs.map((j) => [j.id, j.hostId])).toEqual([[job.id, host.id]]);
    const finished: RunSummary[] = [];
    e.ctx.bus.on('runs.finished', (r) => finished.push(r));
    const { runId } = await call<{ runId: string }>(e, 'jobs.runNow', { id: job.id });
    await expect.poll(() => finished.find((r) => r.runId === runId), { timeout: 60_000 }).toBeTruthy();
    expect(finished.find((r) => r.runId === runId)!.status).toBe('success');

    // The approval is kept: the next start connects without asking.
    e = await restart(e, dataDir);
    expect((await call<{ vms: unknown[] }>(e, 'inventory.get', { hostId: host.id })).vms.length).toBeGreaterThan(0);
    expect(await stateOf(e, host.id)).toMatchObject({ state: 'connected' });
  });

  it('refuses to remove a pool that jobs use, naming the jobs; removes it once they are gone', async () => {
    const dataDir = temp();
    const e = start(dataDir);
    const host = await call<HostSummary>(e, 'hosts.add', {
      url: sim.url,
      username: sim.username,
      password: sim.password,
      trustedFingerprint: sim.fingerprint,
    });
    const remote = await call<{ id: string }>(e, 'remotes.add', { name: 'nas', path: temp() });
    const job = await call<Job>(e, 'jobs.save', {
      name: 'nightly web',
      hostId: host.id,
      vms: { kind: 'pool' },
      mode: 'full',
      remoteIds: [remote.id],
      schedules: [],
    });

    const refused = await refusal(e, 'hosts.remove', { id: host.id });
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toContain('"nightly web"');
    expect(refused.hint).toMatch(/Edit that job .* or remove it/);
    expect((await call<HostSummary[]>(e, 'hosts.list', {})).map((h) => h.id)).toEqual([host.id]);
    expect(await call(e, 'jobs.list', {})).toHaveLength(1);
    // The password is still there: the pool still connects.
    expect((await call<{ vms: unknown[] }>(e, 'inventory.get', { hostId: host.id })).vms.length).toBeGreaterThan(0);

    expect(await call(e, 'jobs.remove', { id: job.id })).toEqual({ removed: true });
    expect(await call(e, 'hosts.remove', { id: host.id })).toEqual({ removed: true });
    expect(await call(e, 'hosts.list', {})).toEqual([]);
  });
});
