import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { destroyTasksOfRun } from '../../src-main/jobs/interrupted-run-cleanup.js';
import { MADE_BY_KEY } from '../../src-main/xapi/owned-objects.js';
import { TASK_OWNER_KEY } from '../../src-main/xapi/owned-tasks.js';
import { waitForTask } from '../../src-main/xapi/task-waiter.js';
import { parseTaskResultRefs } from '../../src-main/xapi/xapi-records.js';
import { runCli } from '../helpers/cli.js';
import { MiB } from '../helpers/sim.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';
import { backupCliArgs } from '../helpers/cli-args.js';

// Issue 13: a kill leaves the host's export task on the host for good; the next run destroys the tasks of
// Sluice processes that are gone, and only those.

const env = withSimulator({ vms: [haltedVm('files', { system: [48 * MiB, 8 * MiB] })] });
const { temp } = env;

const backup = (remote: string, mode: 'delta' | 'full') =>
  backupCliArgs(env.sim, env.passwordFile, {
    vm: 'files',
    remote,
    mode,
    jobId: 'job-tasks',
    dataDir: temp(),
    spoolDir: temp(),
    json: true,
  });

interface Task {
  ref: string;
  name_label: string;
  status: string;
  owner?: { runId: string; pid: number; hostname: string };
}
const tasks = (): Task[] =>
  Object.entries(env.sim.control.records('task')).map(([ref, t]) => {
    const raw = (t.other_config as Record<string, string>)[TASK_OWNER_KEY];
    return {
      ref,
      name_label: String(t.name_label),
      status: String(t.status),
      ...(raw ? { owner: JSON.parse(raw) as Task['owner'] } : {}),
    };
  });

async function plantTask(label: string, owner?: Task['owner']): Promise<string> {
  const ref = await env.xapi.call<string>('task.create', label, 'planted');
  if (owner) await env.xapi.call('task.add_to_other_config', ref, TASK_OWNER_KEY, JSON.stringify(owner));
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

      env.sim.control.guestWrite(env.sim.control.vmUuidByName('files'), 0.5, 3);
      env.sim.control.addFault('rate-limit=2M');
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
        env.sim.control.clearFaults();
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
      for (const ref of kept) await env.xapi.call('task.destroy', ref);
    },
  );

  it('recovery after an interrupted engine run destroys that run’s tasks, whatever process it named', async () => {
    const host = os.hostname();
    // The engine's pid may be alive again (a restarted engine, a reused pid): the run id alone decides here.
    const dead = await plantTask('Sluice delta export', { runId: 'run-interrupted', pid: process.pid, hostname: host });
    const other = await plantTask('Sluice delta export', { runId: 'run-other', pid: process.pid, hostname: host });
    expect(await destroyTasksOfRun(env.xapi, 'run-interrupted')).toBe(1);
    const refs = tasks().map((t) => t.ref);
    expect(refs).not.toContain(dead);
    expect(refs).toContain(other);
    await env.xapi.call('task.destroy', other);
  });

  it('a backup removes what restores of dead processes half-made (marked objects, a finished import its run never marked), and nothing else', async () => {
    const host = os.hostname();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const mark = (runId: string, pid: number, hostname = host) => JSON.stringify({ runId, pid, hostname });
    const sr = Object.keys(env.sim.control.records('SR'))[0]!;
    const vdi = async (label: string, owner?: string) =>
      env.xapi.call<string>('VDI.create', {
        name_label: label,
        SR: sr,
        virtual_size: String(MiB),
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: owner ? { [MADE_BY_KEY]: owner } : {},
        xenstore_data: {},
        sm_config: {},
        tags: [],
      });
    const vmRecord = (label: string, owner?: string) => ({
      name_label: label,
      is_a_template: false,
      other_config: owner ? { [MADE_BY_KEY]: owner } : {},
    });
    const vm = (label: string, owner?: string) => env.xapi.call<string>('VM.create', vmRecord(label, owner));
    const attached = async (vmRef: string, vdiRef: string) => {
      await env.xapi.call('VBD.create', {
        VM: vmRef,
        VDI: vdiRef,
        userdevice: '0',
        bootable: true,
        mode: 'RW',
        type: 'Disk',
        empty: false,
        unpluggable: false,
        other_config: {},
        qos_algorithm_type: '',
        qos_algorithm_params: {},
      });
      return vdiRef;
    };
    const deadVm = await vm('half-restored', mark('restore-dead', gone));
    const deadVdi = await vdi('half-restored disk', mark('restore-dead', gone));
    // Killed inside the hand-over: its disks are unmarked already, the VM (unmarked last) not yet.
    const handingOver = await vm('handing over', mark('restore-dead', gone));
    const handedDisk = await attached(handingOver, await vdi('handed-over disk'));
    // A finished restore: nothing marked, so nothing of it is touched.
    const restored = await vm('restored');
    const restoredDisk = await attached(restored, await vdi('restored disk'));
    // A finished task whose run died before marking what it made (as an import's VM): only the task names it.
    const importTask = await env.xapi.call<string>('Async.VM.create', vmRecord('made, never marked'));
    const finished = await waitForTask(env.xapi, importTask, { timeoutMs: 10_000, pollMs: 50 });
    const unmarkedImport = parseTaskResultRefs(finished.result)[0]!;
    await env.xapi.call(
      'task.add_to_other_config',
      importTask,
      TASK_OWNER_KEY,
      JSON.stringify({ runId: 'restore-dead', pid: gone, hostname: host, madeResult: true }),
    );
    const kept = [
      await vm('live restore', mark('restore-live', process.pid)),
      await vdi('other machine', mark('restore-far', gone, `not-${host}`)),
      await vdi('admin disk'),
    ];

    expect((await runCli(backup(temp(), 'delta'))).code).toBe(0);
    const vms = Object.keys(env.sim.control.records('VM'));
    const vdis = Object.keys(env.sim.control.records('VDI'));
    expect(vms).not.toContain(deadVm);
    expect(vms).not.toContain(unmarkedImport);
    expect(vdis).not.toContain(deadVdi);
    expect(vms).not.toContain(handingOver);
    expect(vdis).not.toContain(handedDisk);
    expect(vms).toContain(restored);
    expect(vdis).toContain(restoredDisk);
    expect(tasks().map((t) => t.ref)).not.toContain(importTask);
    for (const ref of kept) expect([...vms, ...vdis]).toContain(ref);
  });
});
