import { describe, expect, it } from 'vitest';
import type { TransferProgress } from '../../../src-shared/contract/transfers.js';
import { phaseWords } from '../../../src-renderer/src/shared/runs/live-run-status.js';
import { COL } from '../../../src-renderer/src/shared/runs/run-model.js';
import { RunStore } from '../../../src-renderer/src/shared/runs/run-store.js';
import { vmRows } from '../../../src-renderer/src/shared/runs/vm-transfer-rows.js';

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
      s.progress(
        sample({
          ms: ms + 10,
          disk: { uuid: 'd2', name: 'data' },
          bytesWritten: ms * 500,
          sourceRate: 5 * MiB,
          destinationRate: 5 * MiB,
        }),
      );
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
    for (let ms = 0; ms <= 8000; ms += 250)
      s.progress(sample({ ms, bytesWritten: ms * 1000, destinationRate: 1e6, sourceRate: 1e6 }));
    const sum = s.summary('r1')!;
    expect(sum.totalBytes).toBeNull();
    expect(sum.fraction).toBeNull();
    expect(sum.eta).toEqual({ seconds: null, reason: 'unknown-total' });
  });

  it('a known total gives a fraction, and an ETA once the rate is steady', () => {
    const s = new RunStore();
    for (let ms = 0; ms <= 8000; ms += 250)
      s.progress(
        sample({ ms, bytesWritten: ms * 1000, totalBytes: 16_000_000, destinationRate: 1e6, sourceRate: 1e6 }),
      );
    const sum = s.summary('r1')!;
    expect(sum.fraction).toBeCloseTo(0.5, 5);
    expect(sum.eta).toEqual({ seconds: 8, reason: 'steady' });
  });

  it('the total stays unknown until every VM of the run has reported', () => {
    const s = new RunStore();
    s.started(
      'r1',
      {
        label: 'x',
        vms: [
          { uuid: 'vm-a', name: 'erp-db' },
          { uuid: 'vm-b', name: 'mail' },
        ],
      },
      T0,
    );
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
    s.log({
      level: 'info',
      message: 'Removing the backup snapshot from the host.',
      at: new Date(T0 + 500).toISOString(),
      context: { runId: 'r1' },
    });
    s.log({ level: 'info', message: 'not ours', at: new Date(T0).toISOString(), context: { runId: 'other' } });
    expect(s.get('r1')!.log.map((l) => l.message)).toEqual(['Removing the backup snapshot from the host.']);
    s.finished({
      runId: 'r1',
      ok: false,
      cancelled: true,
      vms: [],
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0 + 900).toISOString(),
    });
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

describe('RunStore: a VM whose disks report one by one', () => {
  const sys = { uuid: 'd-sys', name: 'web01 system' };
  const data = { uuid: 'd-data', name: 'web01 data' };
  const nobak = { uuid: 'd-scratch', name: 'scratch [NOBAK]' };
  const vmOwn = (ms: number, phase: TransferProgress['phase'], extra: Partial<TransferProgress> = {}) =>
    sample({ ms, phase, disks: [sys, data], ...extra });

  it('one disk after the other: the VM sums its disks, the disk not yet started waits, the total stays unknown', () => {
    const s = new RunStore();
    s.progress(vmOwn(0, 'transfer'));
    s.progress(
      sample({
        ms: 100,
        disk: sys,
        bytesWritten: 3 * MiB,
        sourceRate: 2 * MiB,
        destinationRate: 2 * MiB,
        bottleneck: 'source',
      }),
    );
    let [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => [d.disk.name, d.status])).toEqual([
      ['web01 system', 'transfer'],
      ['web01 data', 'waiting'],
    ]);
    expect(vm!.bytesWritten).toBe(3 * MiB);
    expect(vm!.totalBytes).toBeNull();
    expect(vm!.fraction).toBeNull();
    expect(vm!.phase).toBe('transfer');
    expect(s.summary('r1')!.fraction).toBeNull();

    s.progress(sample({ ms: 400, disk: sys, phase: 'done', bytesWritten: 5 * MiB }));
    s.progress(
      sample({
        ms: 500,
        disk: data,
        bytesWritten: 1 * MiB,
        sourceRate: 1 * MiB,
        destinationRate: 1 * MiB,
        bottleneck: 'source',
      }),
    );
    [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => d.status)).toEqual(['done', 'transfer']);
    expect(vm!.disks!.map((d) => d.fraction)).toEqual([1, null]);
    expect(vm!.bytesWritten).toBe(6 * MiB);
    // The finished disk no longer counts in the rates.
    expect(vm!.destinationRate).toBe(1 * MiB);
    const sum = s.summary('r1')!;
    expect(sum.bytesDone).toBe(6 * MiB);
    expect(sum.destinationRate).toBe(1 * MiB);
    // The VM's own sample (no transfer of its own) does not water down the disks' verdict.
    expect(s.get('r1')!.history.last(COL.verdict)).toBe(1);
  });

  it('a total is known only once every disk has reported its own; parallel disks add their rates', () => {
    const s = new RunStore();
    s.progress(vmOwn(0, 'transfer'));
    s.progress(sample({ ms: 100, disk: sys, bytesWritten: 10, totalBytes: 100, sourceRate: 3, destinationRate: 3 }));
    expect(vmRows(s.get('r1')!)[0]!.totalBytes).toBeNull();
    s.progress(sample({ ms: 110, disk: data, bytesWritten: 30, totalBytes: 300, sourceRate: 4, destinationRate: 4 }));
    const [vm] = vmRows(s.get('r1')!);
    expect(vm!.totalBytes).toBe(400);
    expect(vm!.fraction).toBeCloseTo(0.1, 5);
    expect(vm!.sourceRate).toBe(7);
    expect(s.summary('r1')!.totalBytes).toBe(400);
    expect(s.summary('r1')!.fraction).toBeCloseTo(0.1, 5);
  });

  it("the VM's phases come from its own sample; a merge shows its own bytes apart from the copied ones", () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, phase: 'snapshot' }));
    expect(vmRows(s.get('r1')!)[0]!.disks).toBeNull();
    s.progress(vmOwn(100, 'transfer'));
    s.progress(sample({ ms: 200, disk: sys, phase: 'done', bytesWritten: 5 * MiB }));
    s.progress(sample({ ms: 300, disk: data, phase: 'done', bytesWritten: 2 * MiB }));
    s.progress(vmOwn(400, 'commit'));
    expect(vmRows(s.get('r1')!)[0]!.phase).toBe('commit');
    expect(s.summary('r1')!.phase).toBe('commit');
    s.progress(vmOwn(500, 'merge', { bytesWritten: 1 * MiB, totalBytes: 4 * MiB, destinationRate: 9 }));
    const [vm] = vmRows(s.get('r1')!);
    expect(vm!.phase).toBe('merge');
    expect(vm!.merge).toEqual({ bytesWritten: 1 * MiB, totalBytes: 4 * MiB });
    expect(vm!.bytesWritten).toBe(7 * MiB);
    const sum = s.summary('r1')!;
    expect(sum.phase).toBe('merge');
    expect(sum.bytesDone).toBe(7 * MiB);
    // The merge is what moves now: its rate shows.
    expect(sum.destinationRate).toBe(9);
    s.progress(vmOwn(600, 'done', { bytesWritten: 4 * MiB, totalBytes: 4 * MiB }));
    expect(vmRows(s.get('r1')!)[0]!).toMatchObject({ phase: 'done', fraction: 1, merge: null, bytesWritten: 7 * MiB });
  });

  it('a VM that failed before a disk\'s turn: that disk is "not started", not waiting forever', () => {
    const s = new RunStore();
    s.progress(vmOwn(0, 'transfer'));
    s.progress(sample({ ms: 100, disk: sys, phase: 'failed', bytesWritten: MiB }));
    s.progress(vmOwn(200, 'failed'));
    const [vm] = vmRows(s.get('r1')!);
    expect(vm!.phase).toBe('failed');
    expect(vm!.disks!.map((d) => d.status)).toEqual(['failed', 'not started']);
    expect(vm!.fraction).toBeNull();
  });

  it('a skipped disk is shown as skipped and left out of the total', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, phase: 'transfer', disks: [sys, nobak] }));
    s.progress(sample({ ms: 10, disk: nobak, phase: 'skipped' }));
    s.progress(sample({ ms: 20, disk: sys, bytesWritten: 50, totalBytes: 200 }));
    const [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => d.status)).toEqual(['transfer', 'skipped']);
    expect(vm!.totalBytes).toBe(200);
  });

  it('a disk waiting its turn counts by the VM’s estimate of it, so the total is known (as one) from the start', () => {
    const s = new RunStore();
    const named = [
      { ...sys, estimatedBytes: 100 },
      { ...data, estimatedBytes: 300 },
    ];
    s.progress(sample({ ms: 0, phase: 'transfer', disks: named }));
    let [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => [d.status, d.totalBytes, d.estimate])).toEqual([
      ['waiting', 100, 'allocation'],
      ['waiting', 300, 'allocation'],
    ]);
    expect(vm).toMatchObject({ totalBytes: 400, estimate: 'allocation', fraction: 0 });
    // The first disk's own length replaces its estimate; the second still counts by its own.
    s.progress(sample({ ms: 10, disk: sys, bytesWritten: 40, totalBytes: 80 }));
    [vm] = vmRows(s.get('r1')!);
    expect(vm).toMatchObject({ totalBytes: 380, estimate: 'allocation', bytesWritten: 40 });
    s.progress(sample({ ms: 20, disk: sys, phase: 'done', bytesWritten: 80, totalBytes: 80 }));
    s.progress(sample({ ms: 30, disk: data, bytesWritten: 10, totalBytes: 200 }));
    [vm] = vmRows(s.get('r1')!);
    expect(vm).toMatchObject({ totalBytes: 280, estimate: null, bytesWritten: 90 });
    // A VM that ended before a disk's turn: that disk is not started, and its estimate no longer counts.
    s.progress(sample({ ms: 40, phase: 'failed', disks: [...named, { uuid: 'd-x', name: 'x', estimatedBytes: 5 }] }));
    [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.at(-1)).toMatchObject({ status: 'not started', totalBytes: null });
  });

  it('a disk the VM names as skipped is skipped before its own sample arrives: never waiting', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, phase: 'transfer', disks: [sys, { ...nobak, skipped: true }, data] }));
    let [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => d.status)).toEqual(['waiting', 'skipped', 'waiting']);
    expect(vm!.skippedDisks).toBe(1);
    s.progress(sample({ ms: 10, disk: nobak, phase: 'skipped' }));
    s.progress(sample({ ms: 20, phase: 'failed', disks: [sys, { ...nobak, skipped: true }, data] }));
    [vm] = vmRows(s.get('r1')!);
    expect(vm!.disks!.map((d) => d.status)).toEqual(['not started', 'skipped', 'not started']);
  });

  it('disks without a sample of their VM (a restore of one disk) still make a VM row', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, disk: data, phase: 'transfer', bytesWritten: 5, totalBytes: 10 }));
    let [vm] = vmRows(s.get('r1')!);
    expect(vm).toMatchObject({ phase: 'transfer', bytesWritten: 5, totalBytes: 10, fraction: 0.5 });
    s.progress(sample({ ms: 100, disk: data, phase: 'done', bytesWritten: 10, totalBytes: 10 }));
    [vm] = vmRows(s.get('r1')!);
    expect(vm).toMatchObject({ phase: 'done', fraction: 1 });
  });

  it('a whole-VM transfer (an XVA) stays one row with its own figures', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, bytesWritten: 7, totalBytes: null }));
    expect(vmRows(s.get('r1')!)).toEqual([
      expect.objectContaining({ disks: null, bytesWritten: 7, totalBytes: null, fraction: null, merge: null }),
    ]);
  });
});

describe('what a run counts: an estimate, the bytes read, a skipped disk', () => {
  it('an estimated total gives a bar and an ETA but never 100 % before the end; past it, the total is unknown', () => {
    const s = new RunStore();
    for (let ms = 0; ms <= 8000; ms += 250)
      s.progress(sample({ ms, bytesWritten: ms * 1000, totalBytes: 8_000_000, totalEstimate: 'allocation' }));
    let sum = s.summary('r1')!;
    expect(sum).toMatchObject({ estimate: 'allocation', totalBytes: 8_000_000, fraction: 0.99 });
    // Reaching an estimate is not the end: no "done", no 0 s left.
    expect(sum.eta.reason).toBe('unknown-total');
    s.progress(sample({ ms: 8250, bytesWritten: 8_250_000, totalBytes: null, totalEstimate: 'exceeded' }));
    sum = s.summary('r1')!;
    expect(sum).toMatchObject({ estimate: 'exceeded', totalBytes: null, fraction: null });
    s.progress(sample({ ms: 8500, phase: 'done', bytesWritten: 8_300_000, totalBytes: 8_300_000 }));
    expect(vmRows(s.get('r1')!)[0]).toMatchObject({ estimate: null, fraction: 1 });
  });

  it('a total of bytes to read (a verify) is measured on the bytes read, and nothing is called written', () => {
    const s = new RunStore();
    s.progress(sample({ ms: 0, phase: 'verify', bytesRead: 30, bytesWritten: 0, totalBytes: 120, totalOf: 'read' }));
    expect(s.summary('r1')).toMatchObject({ bytesRead: 30, bytesWritten: 0, bytesDone: 30, fraction: 0.25 });
  });

  it("a VM that names its disks is counted once: its disks' figures, a skipped disk left out", () => {
    const s = new RunStore();
    const a = { uuid: 'd-a', name: 'a' };
    const b = { uuid: 'd-b', name: 'b [NOBAK]' };
    s.progress(sample({ ms: 0, disks: [a, b] }));
    s.progress(sample({ ms: 10, disk: b, phase: 'skipped' }));
    s.progress(sample({ ms: 20, disk: a, bytesRead: 40, bytesWritten: 20, totalBytes: 80, totalOf: 'read' }));
    const [vm] = vmRows(s.get('r1')!);
    expect(vm).toMatchObject({ bytesRead: 40, bytesWritten: 20, totalBytes: 80, fraction: 0.5, skippedDisks: 1 });
    expect(vm!.disks!.map((d) => d.status)).toEqual(['transfer', 'skipped']);
  });
});

describe('phaseWords', () => {
  it('says what a phase does for the kind of run: a restore sends to the host, a backup copies from it', () => {
    expect(phaseWords('transfer')).toBe('Copying data from the host.');
    expect(phaseWords('transfer', 'restore')).toBe('Sending the backup to the host.');
    expect(phaseWords('commit', 'restore')).toMatch(/on the host/);
    expect(phaseWords('commit', 'job')).toBe('Writing the backup point’s metadata.');
    expect(phaseWords('transfer', 'export')).toBe('Writing the exported file.');
    expect(phaseWords('cancelling', 'restore')).toMatch(/import/);
  });
});
