import { describe, expect, it } from 'vitest';
import type { TransferProgress } from '../../../src-shared/ipc-contract.js';
import { COL, RunStore } from '../../../src-renderer/src/transfer/run-store.js';

const MiB = 1024 * 1024;
const T0 = Date.parse('2026-01-01T10:00:00Z');

function sample(over: Partial<TransferProgress> & { ms: number }): TransferProgress {
  const { ms, ...rest } = over;
  return {
    runId: 'r1',
    vm: { uuid: 'vm-a', name: 'erp-db' },
    disk: null,
    phase: 'transfer',
    attempt: 1,
    bytesRead: 0,
    bytesWritten: 0,
    totalBytes: null,
    sourceRate: 0,
    destinationRate: 0,
    memoryBytes: 0,
    spoolBytes: 0,
    spoolCapBytes: 1024 * MiB,
    bottleneck: 'unknown',
    etaSeconds: null,
    elapsedMs: ms,
    at: new Date(T0 + ms).toISOString(),
    ...rest,
  };
}

describe('RunStore: runs built from engine events', () => {
  it('sums parallel transfers of a run into one flow, one graph point per step', () => {
    const s = new RunStore({ stepMs: 200 });
    for (let ms = 0; ms <= 2000; ms += 250) {
      s.progress(sample({ ms, bytesWritten: ms * 1000, sourceRate: 10 * MiB, destinationRate: 10 * MiB }));
      s.progress(sample({ ms: ms + 10, disk: { uuid: 'd2', name: 'data' }, bytesWritten: ms * 500, sourceRate: 5 * MiB, destinationRate: 5 * MiB }));
    }
    const run = s.get('r1')!;
    expect(run.items.size).toBe(2);
    // Two samples 10 ms apart share a point: 9 steps, not 18.
    expect(run.history.length).toBe(9);
    expect(run.history.last(COL.source)).toBe(15 * MiB);
    const sum = s.summary('r1')!;
    expect(sum.bytesDone).toBe(2000 * 1000 + 2000 * 500);
    expect(sum.state).toBe('running');
    expect(sum.phase).toBe('transfer');
  });

  it('an unknown total is unknown: no fraction, no ETA', () => {
    const s = new RunStore();
    for (let ms = 0; ms <= 8000; ms += 250) s.progress(sample({ ms, bytesWritten: ms * 1000, destinationRate: 1e6, sourceRate: 1e6 }));
    const sum = s.summary('r1')!;
    expect(sum.totalBytes).toBeNull();
    expect(sum.fraction).toBeNull();
    expect(sum.eta).toEqual({ seconds: null, reason: 'unknown-total' });
  });

  it('a known total gives a fraction, and an ETA once the rate is steady', () => {
    const s = new RunStore();
    for (let ms = 0; ms <= 8000; ms += 250) s.progress(sample({ ms, bytesWritten: ms * 1000, totalBytes: 16_000_000, destinationRate: 1e6, sourceRate: 1e6 }));
    const sum = s.summary('r1')!;
    expect(sum.fraction).toBeCloseTo(0.5, 5);
    expect(sum.eta).toEqual({ seconds: 8, reason: 'steady' });
  });

  it('the total stays unknown until every VM of the run has reported', () => {
    const s = new RunStore();
    s.started('r1', { label: 'x', vms: [{ uuid: 'vm-a', name: 'erp-db' }, { uuid: 'vm-b', name: 'mail' }] }, T0);
    s.progress(sample({ ms: 0, totalBytes: 100 }));
    expect(s.summary('r1')!.totalBytes).toBeNull();
    s.progress(sample({ ms: 300, vm: { uuid: 'vm-b', name: 'mail' }, totalBytes: 50 }));
    expect(s.summary('r1')!.totalBytes).toBe(150);
  });

  it('cancel: cancelling (cleanup) until the engine says the run ended, with its log lines', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0 }));
    s.cancelRequested('r1');
    expect(s.summary('r1')!.state).toBe('cancelling');
    s.log({ level: 'info', message: 'Removing the backup snapshot from the host.', at: new Date(T0 + 500).toISOString(), context: { runId: 'r1' } });
    s.log({ level: 'info', message: 'not ours', at: new Date(T0).toISOString(), context: { runId: 'other' } });
    expect(s.get('r1')!.log.map((l) => l.message)).toEqual(['Removing the backup snapshot from the host.']);
    s.finished({ runId: 'r1', ok: false, cancelled: true, vms: [], startedAt: new Date(T0).toISOString(), finishedAt: new Date(T0 + 900).toISOString() });
    const sum = s.summary('r1')!;
    expect(sum.state).toBe('cancelled');
    expect(sum.phase).toBe('cancelled');
  });

  it('tells subscribers, and counts versions', () => {
    const s = new RunStore();
    let calls = 0;
    const off = s.subscribe(() => calls++);
    s.progress(sample({ ms: 0 }));
    off();
    s.progress(sample({ ms: 300 }));
    expect(calls).toBe(1);
    expect(s.version).toBe(2);
  });
});
