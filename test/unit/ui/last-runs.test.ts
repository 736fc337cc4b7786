import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../../src-shared/contract/runs.js';
import { lastRunByVm } from '../../../src-renderer/src/features/hosts/last-run-by-vm.js';
import { RunStore } from '../../../src-renderer/src/shared/runs/run-store.js';

const summary = (
  runId: string,
  status: RunSummary['status'],
  vms: Array<{ uuid: string; status: RunSummary['vms'][number]['status']; at: string; error?: string }>,
): RunSummary => ({
  runId,
  jobId: null,
  jobName: 'Back up now: x',
  scheduleId: null,
  trigger: 'manual',
  scheduledFor: null,
  status,
  mode: 'full',
  remotes: [],
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T01:00:00.000Z',
  bytes: 0,
  averageBytesPerSec: 0,
  peakBytesPerSec: 0,
  warnings: [],
  errors: status === 'interrupted' ? [{ code: 'INTERNAL', message: 'The run was interrupted.' }] : [],
  vms: vms.map((v) => ({
    vmUuid: v.uuid,
    vmName: v.uuid,
    remoteId: 'r',
    status: v.status,
    pointId: null,
    bytes: 0,
    startedAt: v.at,
    finishedAt: v.at,
    averageBytesPerSec: 0,
    peakBytesPerSec: 0,
    attempts: 1,
    disks: [],
    error: v.error ? { code: 'HOST_ERROR', message: v.error } : null,
  })),
});

describe('last backup of each VM for the Hosts page', () => {
  it('comes from the persisted history (so a failure outlives a restart), the newest outcome winning', () => {
    const history = [
      summary('b', 'failed', [
        { uuid: 'vm1', status: 'failed', at: '2026-01-02T00:00:00.000Z', error: 'The host refused.' },
      ]),
      summary('a', 'success', [
        { uuid: 'vm1', status: 'success', at: '2026-01-01T00:00:00.000Z' },
        { uuid: 'vm2', status: 'success', at: '2026-01-01T00:00:00.000Z' },
      ]),
      summary('c', 'interrupted', [{ uuid: 'vm3', status: 'cancelled', at: '2026-01-03T00:00:00.000Z' }]),
    ];
    const m = lastRunByVm(history, []);
    expect(m.get('vm1')).toEqual({
      ok: false,
      cancelled: false,
      at: '2026-01-02T00:00:00.000Z',
      message: 'The host refused.',
    });
    expect(m.get('vm2')).toMatchObject({ ok: true });
    // Interrupted (Sluice stopped) is a backup that did not happen, not one the user cancelled.
    expect(m.get('vm3')).toEqual({
      ok: false,
      cancelled: false,
      at: '2026-01-03T00:00:00.000Z',
      message: 'The run was interrupted.',
    });
  });

  it('a run of this window that ended after the history was read wins', () => {
    const store = new RunStore();
    store.finished({
      runId: 'live',
      ok: true,
      cancelled: false,
      startedAt: '2026-01-05T00:00:00.000Z',
      finishedAt: '2026-01-05T00:01:00.000Z',
      vms: [{ vmUuid: 'vm1', vmName: 'vm1', ok: true, pointId: 'P', bytes: 1, attempts: 1, error: null }],
    });
    const m = lastRunByVm(
      [summary('b', 'failed', [{ uuid: 'vm1', status: 'failed', at: '2026-01-02T00:00:00.000Z', error: 'x' }])],
      store.runs(),
    );
    expect(m.get('vm1')).toMatchObject({ ok: true, at: '2026-01-05T00:01:00.000Z' });
  });
});
