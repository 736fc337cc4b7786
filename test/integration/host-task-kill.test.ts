import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyTasksOfRun } from '../../src-main/jobs/interrupted-run-cleanup.js';
import { TASK_OWNER_KEY } from '../../src-main/xapi/owned-tasks.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { runCli } from '../helpers/cli.js';
import { connect, MiB } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Issue 13: a kill leaves the host's export task on the host for good; the next run destroys the tasks of
// Sluice processes that are gone, and only those.

let sim: SimHandle;
let xapi: XapiSession;
let passwordFile: string;
const { temp, cleanupAll } = tempDirs();
beforeAll(async () => {
  sim = await startSimulator({
    vms: [
      { name: 'files', powerState: 'Halted', disks: [{ name: 'files system', size: 48 * MiB, allocated: 8 * MiB }] },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
  passwordFile = path.join(temp(), 'pw');
  writeFileSync(passwordFile, `${sim.password}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

const backup = (remote: string, mode: 'delta' | 'full') => [
  'backup',
  ...['--host', sim.url, '--username', sim.username, '--password-file', passwordFile],
  ...['--trust-fingerprint', sim.fingerprint, '--vm', 'files', '--remote', remote, '--mode', mode],
  ...['--job-id', 'job-tasks', '--data-dir', temp(), '--spool-dir', temp(), '--json'],
];

interface Task {
  ref: string;
  name_label: string;
  status: string;
  owner?: { runId: string; pid: number; hostname: string };
}
const tasks = (): Task[] =>
  Object.entries(sim.control.records('task')).map(([ref, t]) => {
    const raw = (t.other_config as Record<string, string>)[TASK_OWNER_KEY];
    return {
      ref,
      name_label: String(t.name_label),
      status: String(t.status),
      ...(raw ? { owner: JSON.parse(raw) as Task['owner'] } : {}),
    };
  });

async function plantTask(label: string, owner?: Task['owner']): Promise<string> {
  const ref = await xapi.call<string>('task.create', label, 'planted');
  if (owner) await xapi.call('task.add_to_other_config', ref, TASK_OWNER_KEY, JSON.stringify(owner));
  return ref;
}

describe('host tasks of killed runs', () => {
  it.each(['delta', 'full'] as const)(
    'a %s backup killed mid-export leaves a task the next run destroys; live and foreign tasks stay',
    async (mode) => {
      const remote = temp();
      expect((await runCli(backup(remote, mode))).code).toBe(0);
      const before = new Set(tasks().map((t) => t.ref));
      // A task of a Sluice process that still runs (this one), of another machine, and of another client.
      const kept = [
        await plantTask('Sluice delta export', { runId: 'live-run', pid: process.pid, hostname: os.hostname() }),
        await plantTask('Sluice delta export', { runId: 'elsewhere', pid: 1, hostname: `not-${os.hostname()}` }),
        await plantTask('Someone else’s export'),
      ];

      sim.control.guestWrite(sim.control.vmUuidByName('files'), 0.5, 3);
      sim.control.addFault('rate-limit=2M');
      let killedPid: number | undefined;
      try {
        const killed = await runCli(backup(remote, mode), {
          onStdout: (text, proc) => {
            if (/"phase":"transfer"[^\n]*"bytesWritten":[1-9]/.test(text)) {
              killedPid = proc.pid;
              proc.kill('SIGKILL');
            }
          },
        });
        expect(killed.signal).toBe('SIGKILL');
      } finally {
        sim.control.clearFaults();
      }
      // The killed process's export task is still on the host, marked as its own.
      const left = tasks().filter((t) => t.owner?.pid === killedPid);
      expect(left.map((t) => t.name_label)).toEqual([
        mode === 'delta' ? 'Sluice delta export' : 'Sluice backup export',
      ]);

      expect((await runCli(backup(remote, mode))).code).toBe(0);
      const after = tasks().filter((t) => !before.has(t.ref));
      expect(after.map((t) => t.ref).sort()).toEqual([...kept].sort());
      expect(after.map((t) => t.status)).toEqual(['pending', 'pending', 'pending']);
      for (const ref of kept) await xapi.call('task.destroy', ref);
    },
  );

  it('recovery after an interrupted engine run destroys that run’s tasks, whatever process it named', async () => {
    const host = os.hostname();
    // The engine's pid may be alive again (a restarted engine, a reused pid): the run id alone decides here.
    const dead = await plantTask('Sluice delta export', { runId: 'run-interrupted', pid: process.pid, hostname: host });
    const other = await plantTask('Sluice delta export', { runId: 'run-other', pid: process.pid, hostname: host });
    expect(await destroyTasksOfRun(xapi, 'run-interrupted')).toBe(1);
    const refs = tasks().map((t) => t.ref);
    expect(refs).not.toContain(dead);
    expect(refs).toContain(other);
    await xapi.call('task.destroy', other);
  });
});
