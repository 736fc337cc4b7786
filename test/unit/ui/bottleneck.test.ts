import { describe, expect, it } from 'vitest';
import type { TransferProgress } from '../../../src-shared/contract/transfers.js';
import { flowEnds, readBottleneck } from '../../../src-renderer/src/shared/runs/bottleneck.js';

// The UI words the engine's verdicts (test/unit/bottleneck-verdict.test.ts checks they are the CLI's); what
// it adds is the choice among a run's transfers when several move at once.

function live(over: Partial<TransferProgress>): TransferProgress {
  return {
    runId: 'r',
    vm: { uuid: 'vm', name: 'mail' },
    disk: { uuid: 'd', name: 'system' },
    phase: 'transfer',
    attempt: 1,
    bytesRead: 0,
    bytesWritten: 0,
    totalBytes: null,
    sourceRate: 0,
    destinationRate: 0,
    memoryBytes: 0,
    spoolBytes: 0,
    spoolCapBytes: 0,
    bottleneck: 'unknown',
    etaSeconds: null,
    elapsedMs: 0,
    at: '2026-01-01T00:00:00Z',
    ...over,
  };
}

describe('readBottleneck: the run’s verdict from its transfers’ engine verdicts', () => {
  it('says "Measuring…" until the engine has a verdict', () => {
    expect(readBottleneck([]).text).toBe('Measuring…');
    expect(readBottleneck([live({})]).verdict).toBe('unknown');
  });

  it('parallel disks: the side holding any of them back holds the run back, a stall first', () => {
    const r = readBottleneck([
      live({ bottleneck: 'source', bottleneckWhy: 'starved' }),
      live({ bottleneck: 'destination', bottleneckWhy: 'waits' }),
      live({ bottleneck: 'balanced' }),
    ]);
    expect(r.verdict).toBe('destination');
    expect(r.text).toBe('The destination is the bottleneck: the host has to wait for it.');
    const stalled = readBottleneck([
      live({ bottleneck: 'destination', bottleneckWhy: 'waits' }),
      live({ bottleneck: 'source', bottleneckWhy: 'stalled', stalledForMs: 6200 }),
    ]);
    expect(stalled).toMatchObject({ verdict: 'source', stalled: 'source', stalledForMs: 6200 });
    expect(stalled.text).toBe('The host is the bottleneck: it has sent nothing for 6 s.');
  });

  it('a transfer past its copy does not count', () => {
    expect(readBottleneck([live({ phase: 'commit', bottleneck: 'destination' })]).verdict).toBe('unknown');
  });

  it('names the ends of a restore: the backup remote sends, the host receives', () => {
    const slowHost = readBottleneck(
      [live({ bottleneck: 'destination', bottleneckWhy: 'memory-filling' })],
      flowEnds('restore'),
    );
    expect(slowHost.text).toBe(
      'The host is the bottleneck: the backup remote sends faster than it is written, and the memory buffer takes the difference.',
    );
    const slowRemote = readBottleneck(
      [live({ bottleneck: 'source', bottleneckWhy: 'stalled', stalledForMs: 3000 })],
      flowEnds('restore'),
    );
    expect(slowRemote.text).toBe('The backup remote is the bottleneck: it has sent nothing for 3 s.');
  });
});
