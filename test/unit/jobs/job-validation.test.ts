import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeEngine, type NodeEngine } from '../../../src-main/engine/engine-node.js';
import { ConfSettingsStore } from '../../../src-main/settings/conf-settings-store.js';
import { SETTINGS_SCHEMA_VERSION } from '../../../src-main/settings/settings-schema.js';
import { tempDirs } from '../../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
const engines: NodeEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  cleanupAll();
});

const VM = '0b9d3c7e-1c9f-4a7e-9d2b-5f6f0a1b2c3d';

async function engineWithPoolAndRemote() {
  const dataDir = temp();
  const e = createNodeEngine({ dataDir, transport: 'websocket' });
  engines.push(e);
  await e.ctx.settings.update((s) => {
    s.hosts.push({
      id: 'host-1',
      label: 'pool',
      url: 'https://pool.example',
      username: 'root',
      trustedFingerprint: null,
      secretId: 'host:host-1',
    });
    s.remotes.push({ id: 'remote-1', name: 'nas', kind: 'folder', path: temp() });
  });
  return e;
}

const valid = {
  name: 'nightly',
  hostId: 'host-1',
  vms: { kind: 'vms', vmUuids: [VM] },
  mode: 'full',
  remoteIds: ['remote-1'],
  schedules: [{ cron: '0 2 * * *', timezone: 'Europe/Paris', retention: { keep: 7 } }],
};

describe('jobs.save: validation', () => {
  it('saves a valid job with defaults filled in, and it survives a restart', async () => {
    const e = await engineWithPoolAndRemote();
    const r = await e.dispatcher.dispatch('jobs.save', valid);
    expect(r.ok).toBe(true);
    const job = (
      r as {
        value: {
          id: string;
          schedules: Array<{ id: string; enabled: boolean }>;
          vmConcurrency: number;
          missedRuns: string;
        };
      }
    ).value;
    expect(job.schedules[0]!.id).toBeTruthy();
    expect(job.schedules[0]!.enabled).toBe(true);
    expect(job).toMatchObject({
      vmConcurrency: 2,
      diskConcurrency: 1,
      compression: 'none',
      missedRuns: 'report',
      enabled: true,
    });
    const again = new ConfSettingsStore(e.ctx.dataDir);
    expect(again.get().jobs.map((j) => j.id)).toEqual([job.id]);
    const list = await e.dispatcher.dispatch('jobs.list', {});
    expect(list).toMatchObject({ ok: true, value: [{ id: job.id, runningRunId: null, lastRun: null }] });
    expect((list as { value: Array<{ nextRuns: Array<{ at: string }> }> }).value[0]!.nextRuns).toHaveLength(1);
  });

  it.each([
    [
      'an invalid cron pattern',
      { schedules: [{ cron: '61 2 * * *', retention: { keep: 3 } }] },
      'schedules.0.cron',
      /minute/,
    ],
    [
      'a cron pattern of the wrong length',
      { schedules: [{ cron: '0 2 * *', retention: { keep: 3 } }] },
      'schedules.0.cron',
      /5 fields/,
    ],
    [
      'an unknown time zone',
      { schedules: [{ cron: '0 2 * * *', timezone: 'Mars/Olympus', retention: { keep: 3 } }] },
      'schedules.0.timezone',
      /time zone/,
    ],
    ['an unknown remote', { remoteIds: ['remote-1', 'nope'] }, 'remoteIds.1', /Unknown remote "nope"/],
    ['an unknown pool', { hostId: 'elsewhere' }, 'hostId', /not configured/],
    ['an empty VM pick', { vms: { kind: 'vms', vmUuids: [] } }, 'vms.vmUuids', /Pick at least one VM/],
    ['an empty tag list', { vms: { kind: 'tags', tags: [] } }, 'vms.tags', /at least one tag/],
    ['no remote', { remoteIds: [] }, 'remoteIds', /at least one remote/],
    ['zstd on an incremental job', { mode: 'delta', compression: 'zstd' }, 'compression', /full backups only/],
    [
      'a retention of 0',
      { schedules: [{ cron: '0 2 * * *', retention: { keep: 0 } }] },
      'schedules.0.retention.keep',
      /at least 1/,
    ],
  ])('refuses %s, naming the field', async (_what, patch, field, message) => {
    const e = await engineWithPoolAndRemote();
    const r = await e.dispatcher.dispatch('jobs.save', { ...valid, ...patch });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('VALIDATION');
    const issue = r.error.issues?.find((i) => i.path === field);
    expect(issue, JSON.stringify(r.error)).toBeDefined();
    expect(issue!.message).toMatch(message);
    expect(r.error.message).toContain(field);
    expect(e.ctx.settings.get().jobs).toEqual([]);
  });

  it('a bad time zone does not hide a bad pattern: each is named at its own field, in words', async () => {
    const e = await engineWithPoolAndRemote();
    const r = await e.dispatcher.dispatch('jobs.save', {
      ...valid,
      schedules: [{ cron: '0 2 * *', timezone: 'Mars/Olympus', retention: { keep: 3 } }],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.issues).toEqual([
      { path: 'schedules.0.timezone', message: expect.stringMatching(/^"Mars\/Olympus" is not a time zone/) },
      {
        path: 'schedules.0.cron',
        message:
          '"0 2 * *" is not a cron pattern Sluice can read: it has 4 fields, and a cron pattern has 5 fields (minute hour day month weekday), e.g. "0 2 * * *" for every day at 02:00',
      },
    ]);
  });

  it('refuses a second job of the same name, and replaces a job saved with its id', async () => {
    const e = await engineWithPoolAndRemote();
    const first = await e.dispatcher.dispatch('jobs.save', valid);
    const id = (first as { value: { id: string; createdAt: string } }).value.id;
    const dup = await e.dispatcher.dispatch('jobs.save', { ...valid, name: 'NIGHTLY' });
    expect(dup).toMatchObject({ ok: false, error: { code: 'VALIDATION', issues: [{ path: 'name' }] } });
    const edited = await e.dispatcher.dispatch('jobs.save', { ...valid, id, vmConcurrency: 4 });
    expect(edited).toMatchObject({
      ok: true,
      value: { id, vmConcurrency: 4, createdAt: (first as { value: { createdAt: string } }).value.createdAt },
    });
    expect(e.ctx.settings.get().jobs).toHaveLength(1);
    expect(await e.dispatcher.dispatch('jobs.remove', { id })).toEqual({ ok: true, value: { removed: true } });
    expect(e.ctx.settings.get().jobs).toEqual([]);
  });

  it('refuses to run a job that does not exist, saying which jobs do', async () => {
    const e = await engineWithPoolAndRemote();
    await e.dispatcher.dispatch('jobs.save', valid);
    const r = await e.dispatcher.dispatch('jobs.runNow', { id: 'weekly' });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'No job named "weekly".', hint: 'The jobs are: "nightly".' },
    });
  });
});

describe('settings schema 3', () => {
  it('migrates a version 2 file: jobs typed, unreadable entries kept aside, missed-run notification on', () => {
    const dir = temp();
    writeFileSync(
      path.join(dir, 'settings.json'),
      JSON.stringify({
        schemaVersion: 2,
        hosts: [],
        remotes: [],
        jobs: [{ id: 'old', name: 'from a prototype' }],
        trustedCertificates: {},
        preferences: {
          theme: 'dark',
          spoolDir: null,
          spoolCapBytes: 1024,
          memoryBufferBytes: 1024,
          defaultSpeedLimitBytesPerSec: null,
          notifyOnSuccess: true,
          notifyOnFailure: true,
        },
      }),
    );
    const s = new ConfSettingsStore(dir).get();
    expect(s.schemaVersion).toBe(SETTINGS_SCHEMA_VERSION);
    expect(s.jobs).toEqual([]);
    expect(s.unreadableJobs).toEqual([{ id: 'old', name: 'from a prototype' }]);
    expect(s.preferences).toMatchObject({ theme: 'dark', notifyOnSuccess: true, notifyOnMissed: true });
  });
});

describe('jobs.save: an encrypted remote', () => {
  it('takes full and incremental jobs (incremental disks go there as VHD directories)', async () => {
    const e = await engineWithPoolAndRemote();
    await e.ctx.settings.update((s) => {
      s.remotes.push({ id: 'remote-2', name: 'offsite', kind: 'folder', path: temp(), encrypted: true });
    });
    expect((await e.dispatcher.dispatch('jobs.save', { ...valid, remoteIds: ['remote-1', 'remote-2'] })).ok).toBe(true);
    const r = await e.dispatcher.dispatch('jobs.save', {
      ...valid,
      name: 'deltas',
      mode: 'delta',
      remoteIds: ['remote-1', 'remote-2'],
    });
    expect(r.ok).toBe(true);
  });
});
