import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../src-shared/contract/jobs.js';
import { RunHistory } from '../../../src-main/jobs/run-history.js';
import { RunRecorder } from '../../../src-main/jobs/run-recorder.js';
import { formatRunSummary } from '../../../src-main/jobs/run-summary-text.js';
import { SluiceError } from '../../../src-main/errors/sluice-error.js';
import { tempDirs } from '../../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

const job = { id: 'job-1', name: 'nightly', mode: 'delta' } as Job;
const vm = { uuid: '11111111-1111-4111-8111-111111111111', name: 'web01' };

function progress(at: number, rate: number, phase: 'transfer' | 'done' = 'transfer') {
  return {
    runId: 'r',
    vm,
    disk: { uuid: 'disk-1', name: 'system' },
    phase,
    attempt: 1,
    bytesRead: at * 10,
    bytesWritten: at * 10,
    totalBytes: null,
    sourceRate: rate,
    destinationRate: rate,
    memoryBytes: 0,
    spoolBytes: 0,
    spoolCapBytes: 0,
    bottleneck: 'balanced' as const,
    etaSeconds: null,
    elapsedMs: at,
    at: new Date(at).toISOString(),
  };
}

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  return Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
  );
}

describe('run history', () => {
  it('records a run step by step and reads it back, samples included, newest first', async () => {
    const dir = temp();
    const history = new RunHistory(dir);
    const t0 = new Date('2025-01-01T02:00:00Z');
    const rec = new RunRecorder(history, {
      runId: 'run-a',
      job,
      trigger: 'schedule',
      scheduleId: 's1',
      scheduledFor: t0,
      remotes: [{ id: 'r1', name: 'nas' }],
      now: t0,
    });
    rec.plan([vm], ['r1']);
    await rec.save();
    rec.vmStarted(vm.uuid, 'r1', t0);
    // Samples: at most one a second per transfer, the last one always.
    for (let ms = 0; ms <= 3000; ms += 250) rec.progress(progress(ms, 100 + ms), new Date(t0.getTime() + ms));
    rec.progress(progress(3100, 0, 'done'), new Date(t0.getTime() + 3100));
    rec.warn('the previous VHD was missing; made a full one', t0, { vm: 'web01' });
    rec.vmSucceeded(
      vm.uuid,
      'r1',
      {
        pointId: '20250101T020000Z',
        bytes: 4000,
        attempts: 1,
        durationMs: 2000,
        disks: [{ uuid: 'disk-1', name: 'system', bytes: 4000, differencing: true }],
      },
      new Date(t0.getTime() + 3100),
    );
    const s = rec.finish(new Date(t0.getTime() + 4000), false);
    await rec.save(true);
    expect(s).toMatchObject({ status: 'success', bytes: 4000, averageBytesPerSec: 1000, peakBytesPerSec: 3100 });

    const older = new RunRecorder(history, {
      runId: 'run-0',
      job,
      trigger: 'manual',
      scheduleId: null,
      scheduledFor: null,
      remotes: [],
      now: new Date('2024-12-31T02:00:00Z'),
    });
    older.error(
      new SluiceError('HOST_UNREACHABLE', 'The pool did not answer.', {
        hint: 'Check the network.',
        cause: new Error('connect ECONNREFUSED'),
      }),
    );
    older.finish(new Date('2024-12-31T02:00:01Z'), false);
    await older.save();

    const again = new RunHistory(dir);
    const list = await again.list({ jobId: 'job-1' });
    expect(list.map((r) => [r.runId, r.status])).toEqual([
      ['run-a', 'success'],
      ['run-0', 'failed'],
    ]);
    expect(list[1]!.errors[0]).toEqual({
      code: 'HOST_UNREACHABLE',
      message: 'The pool did not answer.',
      hint: 'Check the network.',
      cause: 'connect ECONNREFUSED',
    });
    const full = await again.get('run-a');
    expect(full.samples.map((x) => x.t)).toEqual([0, 1000, 2000, 3000, 3100]);
    expect(full.vms[0]).toMatchObject({
      status: 'success',
      peakBytesPerSec: 3100,
      averageBytesPerSec: 2000,
      disks: [{ differencing: true }],
    });
    expect(full.warnings[0]!.message).toMatch(/full one/);
    await expect(again.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const text = formatRunSummary(full);
    expect(text).toContain('Sluice job "nightly": SUCCEEDED (1 of 1 VM backups done)');
    expect(text).toContain('web01 -> nas: point 20250101T020000Z');
    expect(formatRunSummary(list[1]!)).toMatch(
      /FAILED[\s\S]*The pool did not answer\.\n {4}cause: connect ECONNREFUSED\n {4}hint: Check the network\./,
    );
  });

  it('marks a record its dead process left "running" as interrupted, and leaves live ones alone', async () => {
    const dir = temp();
    const history = new RunHistory(dir);
    const t0 = new Date('2025-01-01T02:00:00Z');
    for (const [runId, pid] of [
      ['dead', deadPid()],
      ['alive', process.pid],
    ] as const) {
      const rec = new RunRecorder(history, {
        runId,
        job,
        trigger: 'schedule',
        scheduleId: 's1',
        scheduledFor: t0,
        remotes: [{ id: 'r1', name: 'nas' }],
        now: t0,
      });
      rec.plan([vm], ['r1']);
      rec.vmStarted(vm.uuid, 'r1', t0);
      await history.write(rec.summary, [], { pid, hostname: os.hostname() });
    }
    const recovered = await history.recoverInterrupted((_run, owner) => owner.pid === process.pid, new Date());
    expect(recovered.map((r) => r.runId)).toEqual(['dead']);
    const list = await history.list();
    expect(Object.fromEntries(list.map((r) => [r.runId, r.status]))).toEqual({ dead: 'interrupted', alive: 'running' });
    const dead = list.find((r) => r.runId === 'dead')!;
    expect(dead.finishedAt).not.toBeNull();
    expect(dead.vms[0]!.status).toBe('cancelled');
    expect(dead.errors[0]!.message).toMatch(/interrupted/);
  });

  it('keeps the newest runs of a job and deletes the rest with their samples', async () => {
    const dir = temp();
    const history = new RunHistory(dir);
    for (let i = 0; i < 5; i++) {
      const rec = new RunRecorder(history, {
        runId: `run-${i}`,
        job,
        trigger: 'manual',
        scheduleId: null,
        scheduledFor: null,
        remotes: [],
        now: new Date(Date.UTC(2025, 0, 1 + i)),
      });
      rec.finish(new Date(Date.UTC(2025, 0, 1 + i, 1)), false);
      await rec.save(true);
    }
    expect(await history.prune('job-1', 2)).toBe(3);
    expect((await history.list()).map((r) => r.runId)).toEqual(['run-4', 'run-3']);
    expect(readdirSync(history.dir).sort()).toEqual([
      'run-3.json',
      'run-3.samples.json',
      'run-4.json',
      'run-4.samples.json',
    ]);
  });

  it('reads records written before "Back up now" runs and buffer samples existed (no hostId, no buffer, no phase)', async () => {
    const dir = temp();
    mkdirSync(path.join(dir, 'runs'));
    const old = {
      runId: 'old-run',
      jobId: 'job-1',
      jobName: 'nightly',
      scheduleId: null,
      trigger: 'manual',
      scheduledFor: null,
      status: 'success',
      mode: 'full',
      remotes: [{ id: 'r1', name: 'nas' }],
      startedAt: '2024-06-01T02:00:00.000Z',
      finishedAt: '2024-06-01T02:01:00.000Z',
      bytes: 10,
      averageBytesPerSec: 1,
      peakBytesPerSec: 2,
      vms: [],
      warnings: [],
      errors: [],
      owner: { pid: 1, hostname: 'h' },
    };
    writeFileSync(path.join(dir, 'runs', 'old-run.json'), JSON.stringify(old));
    writeFileSync(
      path.join(dir, 'runs', 'old-run.samples.json'),
      JSON.stringify([{ t: 0, vmUuid: vm.uuid, diskUuid: null, bytesWritten: 5, sourceRate: 7, destinationRate: 6 }]),
    );
    const history = new RunHistory(dir);
    expect((await history.list()).map((r) => [r.runId, r.jobId, r.hostId])).toEqual([['old-run', 'job-1', undefined]]);
    const rec = await history.get('old-run');
    expect(rec.samples).toEqual([
      { t: 0, vmUuid: vm.uuid, diskUuid: null, bytesWritten: 5, sourceRate: 7, destinationRate: 6 },
    ]);
  });

  it('records a "Back up now" run (no job, its pool named) with the buffer and phase in its samples; prunes them apart from jobs', async () => {
    const dir = temp();
    const history = new RunHistory(dir);
    const t0 = new Date('2025-01-01T02:00:00Z');
    const rec = new RunRecorder(history, {
      runId: 'now-1',
      job: { id: null, name: 'Back up now: web01', mode: 'full' },
      hostId: 'host-1',
      trigger: 'manual',
      scheduleId: null,
      scheduledFor: null,
      remotes: [{ id: 'r1', name: 'nas' }],
      now: t0,
    });
    rec.plan([vm], ['r1']);
    rec.vmStarted(vm.uuid, 'r1', t0);
    rec.progress({ ...progress(0, 100), memoryBytes: 3000, spoolBytes: 2000, spoolCapBytes: 9000 }, t0);
    rec.vmFailed(
      vm.uuid,
      'r1',
      new SluiceError('REMOTE_ERROR', 'The remote is full.', { hint: 'Free space on it.' }),
      false,
      t0,
    );
    rec.finish(t0, false);
    await rec.save(true);
    const got = await new RunHistory(dir).get('now-1');
    expect(got).toMatchObject({
      jobId: null,
      jobName: 'Back up now: web01',
      hostId: 'host-1',
      status: 'failed',
      vms: [{ status: 'failed', error: { message: 'The remote is full.', hint: 'Free space on it.' } }],
    });
    expect(got.samples).toEqual([
      expect.objectContaining({ memoryBytes: 3000, spoolBytes: 2000, spoolCapBytes: 9000, phase: 'transfer' }),
    ]);
    expect(formatRunSummary(got)).toMatch(/^Sluice "Back up now: web01": FAILED/);

    const jobRun = new RunRecorder(history, {
      runId: 'job-run',
      job,
      trigger: 'manual',
      scheduleId: null,
      scheduledFor: null,
      remotes: [],
      now: t0,
    });
    jobRun.finish(t0, false);
    await jobRun.save();
    expect(await history.prune(null, 0)).toBe(1);
    expect((await history.list()).map((r) => r.runId)).toEqual(['job-run']);
  });
});
