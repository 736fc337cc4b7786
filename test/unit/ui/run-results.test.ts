import { describe, expect, it } from 'vitest';
import type { OperationFinished } from '../../../src-shared/contract/points.js';
import type { RunRecord } from '../../../src-shared/contract/runs.js';
import {
  describeOperation,
  resultFromOperation,
  resultFromRunSummary,
  storeFromRecord,
} from '../../../src-renderer/src/shared/runs/run-results.js';
import { COL } from '../../../src-renderer/src/shared/runs/run-model.js';

const MiB = 1024 * 1024;
const vm = (uuid: string, name: string, status: 'success' | 'failed', disks: string[]) => ({
  vmUuid: uuid,
  vmName: name,
  remoteId: 'r',
  status,
  pointId: status === 'success' ? '20260101T000000Z' : null,
  bytes: 10 * MiB,
  startedAt: null,
  finishedAt: null,
  averageBytesPerSec: 0,
  peakBytesPerSec: 0,
  attempts: 1,
  disks: disks.map((d) => ({ uuid: d, name: `disk ${d}`, bytes: 5 * MiB, differencing: false })),
  error: status === 'failed' ? { code: 'HOST_ERROR', message: 'The host refused.', hint: 'Check the host.' } : null,
});
const record: RunRecord = {
  runId: 'run-1',
  jobId: 'j',
  jobName: 'Nightly',
  scheduleId: null,
  trigger: 'manual',
  scheduledFor: null,
  status: 'partial',
  mode: 'delta',
  remotes: [{ id: 'r', name: 'R' }],
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:10.000Z',
  bytes: 10 * MiB,
  averageBytesPerSec: MiB,
  peakBytesPerSec: 2 * MiB,
  vms: [vm('a', 'web', 'success', ['d1', 'd2']), vm('b', 'db', 'failed', [])],
  warnings: [],
  errors: [],
  samples: [
    { t: 1000, vmUuid: 'a', diskUuid: 'd1', bytesWritten: MiB, sourceRate: MiB, destinationRate: MiB },
    { t: 1000, vmUuid: 'a', diskUuid: 'd2', bytesWritten: MiB, sourceRate: 2 * MiB, destinationRate: 2 * MiB },
    { t: 2000, vmUuid: 'a', diskUuid: 'd1', bytesWritten: 2 * MiB, sourceRate: MiB, destinationRate: MiB },
    { t: 3000, vmUuid: 'a', diskUuid: 'd1', bytesWritten: 3 * MiB, sourceRate: 4 * MiB, destinationRate: 4 * MiB },
  ],
};

describe('run results for the Transfers cards and the history graph', () => {
  it('a job run summary: per-VM ok and errors with hints, partial is not ok', () => {
    const r = resultFromRunSummary(record);
    expect(r).toMatchObject({ runId: 'run-1', ok: false, cancelled: false, finishedAt: record.finishedAt });
    expect(r.vms.map((v) => [v.vmName, v.ok, v.error?.hint ?? null])).toEqual([
      ['web', true, null],
      ['db', false, 'Check the host.'],
    ]);
  });

  it('the graph of a stored run: parallel disks add up, a finished disk stops counting', () => {
    const store = storeFromRecord(record);
    const run = store.get('run-1')!;
    expect(run.result).toMatchObject({ ok: false });
    const cols = run.history.columns();
    const source = Array.from(cols[COL.source]!);
    // t=1000 both disks (1 + 2 MiB/s); d2 then ends; t=2000 only d1; t=3000 d1 at 4 MiB/s, then it ends too.
    expect(source).toContain(3 * MiB);
    expect(source).toContain(MiB);
    expect(source).toContain(4 * MiB);
    expect(source[source.length - 1]).toBe(0);
  });

  it('the graph of a stored run shows what the buffer held (memory + spool); older samples without it show 0', () => {
    const withBuffer: RunRecord = {
      ...record,
      samples: record.samples.map((x, i) => ({
        ...x,
        memoryBytes: (i + 1) * MiB,
        spoolBytes: MiB,
        spoolCapBytes: 8 * MiB,
        phase: 'transfer' as const,
      })),
    };
    const buffered = Array.from(storeFromRecord(withBuffer).get('run-1')!.history.columns()[COL.buffered]!);
    // t=1000: d1 (1 + 1 MiB) and d2 (2 + 1 MiB) held together.
    expect(buffered).toContain(5 * MiB);
    const spool = Array.from(storeFromRecord(withBuffer).get('run-1')!.history.columns()[COL.spool]!);
    expect(spool).toContain(2 * MiB);
    expect(
      Array.from(storeFromRecord(record).get('run-1')!.history.columns()[COL.buffered]!).every((b) => b === 0),
    ).toBe(true);
  });

  it('an operation: its result and its sentence', () => {
    const f: OperationFinished = {
      operationId: 'op',
      kind: 'restore',
      vm: { uuid: 'a', name: 'web' },
      pointId: 'P',
      ok: true,
      cancelled: false,
      result: { kind: 'restore', vmUuid: 'new', name: 'web (restored)', started: true, bytes: 42, disks: 2 },
      error: null,
      startedAt: 'a',
      finishedAt: 'b',
    };
    expect(resultFromOperation(f)).toMatchObject({
      runId: 'op',
      ok: true,
      vms: [{ vmName: 'web', bytes: 42, pointId: 'P' }],
    });
    expect(describeOperation(f)).toBe('web P restored as "web (restored)" (new), 2 disk(s), started.');
    const failed = { ...f, ok: false, result: null, error: { code: 'REMOTE_ERROR', message: 'damaged' } };
    expect(describeOperation(failed)).toBe('The restore of web P failed: damaged');
  });
});

describe('dashboard attention for job runs', () => {
  const base = { ...record, finishedAt: '2026-01-01T00:00:10.000Z' };
  const now = Date.parse('2026-01-01T01:00:10.000Z');
  it('failed, interrupted, partial and missed runs need attention, in words with the first error and its hint', async () => {
    const { jobRunAttention } = await import('../../../src-renderer/src/features/dashboard/job-run-attention.js');
    const runs = (['success', 'failed', 'interrupted', 'partial', 'missed', 'cancelled'] as const).map((status, i) => ({
      ...base,
      runId: `r${i}`,
      status,
    }));
    const items = jobRunAttention(runs, () => false, now);
    expect(items.map((i) => [i.key, i.tone])).toEqual([
      ['jobrun-r1', 'bad'],
      ['jobrun-r2', 'bad'],
      ['jobrun-r3', 'warn'],
      ['jobrun-r4', 'warn'],
    ]);
    expect(items[0]!.text).toMatch(/^Job Nightly failed 1 h(our)?.* ago: The host refused\.$/);
    expect(items[0]!.hint).toBe('Check the host.');
    expect(items[1]!.text).toMatch(/was interrupted \(Sluice stopped while it ran\)/);
    expect(jobRunAttention(runs, (id) => id === 'r1', now).map((i) => i.key)).not.toContain('jobrun-r1');
    const now1 = jobRunAttention(
      [{ ...base, runId: 'n', jobId: null, jobName: 'Back up now: web', status: 'failed' }],
      () => false,
      now,
    );
    expect(now1[0]!.text).toMatch(/^Back up now: web failed 1 h(our)?.* ago: The host refused\.$/);
  });
});
