import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { MADE_BY_KEY } from '../../src-main/xapi/owned-objects.js';
import { TASK_OWNER_KEY } from '../../src-main/xapi/owned-tasks.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { destroyRestored, vmRefByUuid, vmShape } from '../helpers/restore.js';
import { seededRandom, seedFrom } from '../helpers/seeded-random.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { withSimulator } from '../helpers/simulator-suite.js';
import { hostArgs } from '../helpers/cli-args.js';

// Issue 13: kill -9 at random points of restores. A restore that is killed cannot remove what it had made on
// the host (the VM of an import, the VM and disks it created, a disk's copy on another SR); the next restore
// or backup on the pool removes exactly that, never a finished restore's VM, and the repository is only read.
// The kill points are the k-th line of the restore's own --json output, k drawn from a seeded generator
// (SLUICE_KILL_SEED replays a failure), so each run reaches a different phase: verify, transfer, the disk
// copy, the hand-over.

const SEED = seedFrom('SLUICE_KILL_SEED', 1302);
const env = withSimulator({
  vms: [
    {
      name: 'app',
      powerState: 'Halted',
      disks: [
        { name: 'app system', size: 16 * MiB, allocated: 6 * MiB },
        { name: 'app data', size: 8 * MiB, allocated: 3 * MiB, sr: 'Local storage' },
      ],
    },
  ],
});
const { temp } = env;
let remote: string;
let fullId: string;
let deltaId: string;
/** Point id → SHA-256 of each source disk by position, when the point was taken. */
const truth = new Map<string, Record<string, string>>();

beforeAll(async () => {
  remote = temp();
  const uuid = env.sim.control.vmUuidByName('app');
  const ref = await env.vmRef('app');
  const hashes = async () =>
    Object.fromEntries((await vmShape(env.sim, vmRefByUuid(env.sim, uuid))).disks.map((d) => [d.position, d.sha256]));
  fullId = (await runFullBackup(env.xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-rk' }))).pointId;
  truth.set(fullId, await hashes());
  await runDeltaBackup(env.xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-rk' }));
  env.sim.control.guestWrite(uuid, 0.2, 7);
  deltaId = (await runDeltaBackup(env.xapi, ref, testBackupOptions(remote, temp(), { jobId: 'job-rk' }))).pointId;
  truth.set(deltaId, await hashes());
});

const srUuid = (name: string) =>
  String(Object.values(env.sim.control.records('SR')).find((s) => s.name_label === name)!.uuid);

const restoreArgs = (at: string, extra: string[]) => [
  'restore',
  ...['--remote', remote, '--vm', 'app', '--at', at],
  ...hostArgs(env.sim, env.passwordFile),
  ...['--data-dir', temp(), '--speed-limit', '8M', '--json'],
  ...extra,
];

/** Every file of the repository with its bytes' digest and mtime: a restore, killed or not, changes none. */
function repositoryState(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    out.push(`${path.relative(dir, file)} ${digest} ${statSync(file).mtimeMs}`);
  }
  return out.sort();
}

const records = (cls: 'VM' | 'VDI' | 'task') => Object.entries(env.sim.control.records(cls));
const marked = () =>
  [...records('VM'), ...records('VDI')].filter(([, r]) => MADE_BY_KEY in (r.other_config as Record<string, string>));
const tasksOf = (pid: number) =>
  records('task').filter(([, t]) => {
    const raw = (t.other_config as Record<string, string>)[TASK_OWNER_KEY];
    return raw !== undefined && (JSON.parse(raw) as { pid: number }).pid === pid;
  });
const refs = (cls: 'VM' | 'VDI') => new Set(records(cls).map(([ref]) => ref));

/** Destroys a finished restore's VM and disks (or a lone VDI), so the next case starts from the same host. */
async function removeRestored(result: CliResult): Promise<void> {
  const r = resultOf(result);
  if (typeof r.vmUuid !== 'string')
    return destroyRestored(env.xapi, undefined, [await env.xapi.call<string>('VDI.get_by_uuid', r.vdiUuid)]);
  const vm = await env.xapi.call<string>('VM.get_by_uuid', r.vmUuid);
  const vbds = await env.xapi.call<string[]>('VM.get_VBDs', vm);
  const vdis = await Promise.all(vbds.map((b) => env.xapi.call<string>('VBD.get_VDI', b)));
  await destroyRestored(
    env.xapi,
    vm,
    vdis.filter((v) => v !== 'OpaqueRef:NULL'),
  );
}

const resultOf = (result: CliResult) =>
  result.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.type === 'result')!;

interface Kind {
  name: string;
  at: () => string;
  extra: () => string[];
  /** SHA-256 by position of what the clean restore must hold. */
  expected: () => Record<string, string>;
}
const KINDS: Kind[] = [
  {
    name: 'a full point with a disk moved to another SR',
    at: () => fullId,
    extra: () => ['--sr', srUuid('NFS storage'), '--disk-sr', `1=${srUuid('Local storage')}`],
    expected: () => truth.get(fullId)!,
  },
  { name: 'an incremental point', at: () => deltaId, extra: () => [], expected: () => truth.get(deltaId)! },
  {
    name: 'one disk of an incremental point',
    at: () => deltaId,
    extra: () => ['--disk', '0'],
    expected: () => ({ '0': truth.get(deltaId)!['0']! }),
  },
];

/** The clean restore's disks, by position (a lone disk is at "0"). */
async function restoredHashes(result: CliResult): Promise<Record<string, string>> {
  const r = resultOf(result);
  if (typeof r.vmUuid === 'string')
    return Object.fromEntries(
      (await vmShape(env.sim, vmRefByUuid(env.sim, r.vmUuid))).disks.map((d) => [d.position, d.sha256]),
    );
  return { '0': await env.sim.control.hashVdi(String(r.vdiUuid)) };
}

/** What a killed restore left that is whole: one VM with its disks, or one lone VDI; their SHA-256 by position. */
async function finishedRestore(vms: string[], vdis: string[]): Promise<Record<string, string> | string> {
  if (vms.length === 1) {
    const shape = await vmShape(env.sim, vms[0]!);
    if (shape.disks.length !== vdis.length) return 'a VM whose disks are not all there';
    return Object.fromEntries(shape.disks.map((d) => [d.position, d.sha256]));
  }
  if (vms.length === 0 && vdis.length === 1)
    return { '0': await env.sim.control.hashVdi(String(env.sim.control.records('VDI')[vdis[0]!]!.uuid)) };
  return `${vms.length} VMs and ${vdis.length} VDIs`;
}

const phaseOf = (line: string) => String((JSON.parse(line) as { phase?: string }).phase ?? 'log');

/**
 * One kill point per phase the unkilled run went through (its lines grouped by phase, one line drawn in
 * each group), so the kills reach the copy and the hand-over as well as the long transfer. Line k means: kill
 * once k lines were printed. The last line (the result) is never a kill point.
 */
function killPoints(lines: string[], random: () => number): number[] {
  const byPhase = new Map<string, number[]>();
  lines.slice(0, -1).forEach((line, i) => {
    const phase = phaseOf(line);
    // 'queued' is the moment before the first step and 'done' the one after the last: the log lines around
    // them reach the same places.
    if (phase === 'queued' || phase === 'done') return;
    byPhase.set(phase, [...(byPhase.get(phase) ?? []), i + 1]);
  });
  return [...byPhase.values()].map((ks) => ks[Math.floor(random() * ks.length)]!);
}

describe(`restores killed at random points (seed ${SEED})`, () => {
  const random = seededRandom(SEED);

  it.each(KINDS.map((k) => [k.name, k] as const))(
    '%s: the next restore removes what the killed one made, and only that',
    async (_name, kind) => {
      const before = repositoryState(remote);
      // The length of an unkilled run, in lines of --json output: the range the kill points are drawn from.
      const copySlow = () => env.sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 6 * MiB, on: 'vdi_copy' });
      let fault = copySlow();
      const whole = await runCli(restoreArgs(kind.at(), kind.extra()));
      env.sim.control.removeFault(fault);
      expect(whole.code, whole.stderr).toBe(0);
      await removeRestored(whole);
      const lines = whole.stdout.split('\n').filter(Boolean);
      const vmsBefore = refs('VM');
      const vdisBefore = refs('VDI');
      const reached: string[] = [];

      for (const k of killPoints(lines, random)) {
        fault = copySlow();
        let pid = 0;
        const killed = await runCli(restoreArgs(kind.at(), kind.extra()), {
          onStdout: (text, proc) => {
            if (text.split('\n').length > k && proc.exitCode === null && !proc.killed) {
              pid = proc.pid!;
              proc.kill('SIGKILL');
            }
          },
        });
        env.sim.control.removeFault(fault);
        if (killed.signal !== 'SIGKILL') continue; // finished before line k: nothing to mend
        const last = killed.stdout.trim().split('\n').at(-1)!;
        reached.push(phaseOf(last));
        // Whatever it had made is marked as the dead run's (or named by its finished task).
        for (const [, r] of marked())
          expect(JSON.parse((r.other_config as Record<string, string>)[MADE_BY_KEY]!)).toMatchObject({ pid });

        const next = await runCli(restoreArgs(kind.at(), kind.extra()));
        expect(next.code, `kill at line ${k} of ${lines.length}: ${next.stderr}`).toBe(0);
        expect(await restoredHashes(next)).toEqual(kind.expected());
        // Nothing left but the new restore's own objects, none of them marked; the dead run's tasks are gone.
        expect(marked(), `kill at line ${k}`).toEqual([]);
        expect(tasksOf(pid)).toEqual([]);
        await removeRestored(next);
        // Killed after its last step on the host (the hand-over), the restore had finished: its VM (or VDI)
        // is whole and the admin's, and stays. Anything else extra is a leftover.
        const extraVms = [...refs('VM')].filter((r) => !vmsBefore.has(r));
        const extraVdis = [...refs('VDI')].filter((r) => !vdisBefore.has(r));
        if (extraVms.length + extraVdis.length > 0) {
          const finished = await finishedRestore(extraVms, extraVdis);
          expect(
            finished,
            `kill at line ${k} of ${lines.length} left ${extraVms.length} VM(s), ${extraVdis.length} VDI(s)`,
          ).toEqual(kind.expected());
          reached[reached.length - 1] += ' (finished)';
          await destroyRestored(env.xapi, extraVms[0], extraVdis);
        }
        expect(refs('VM'), `kill at line ${k} of ${lines.length}`).toEqual(vmsBefore);
        expect(refs('VDI'), `kill at line ${k} of ${lines.length}`).toEqual(vdisBefore);
      }
      expect(reached.length, 'no kill landed before the restore finished').toBeGreaterThan(0);
      console.log(`${kind.name}: killed in ${reached.join(', ')} (${lines.length} lines)`);
      expect(repositoryState(remote)).toEqual(before);
    },
  );
});
