import { describe, expect, it } from 'vitest';
import {
  flowEnds,
  readBottleneck,
  type FlowSample,
  type Verdict,
} from '../../../src-renderer/src/shared/runs/bottleneck.js';

const MiB = 1024 * 1024;

function flow(seconds: number, f: (t: number) => Partial<FlowSample>): FlowSample[] {
  const out: FlowSample[] = [];
  for (let ms = 0; ms <= seconds * 1000; ms += 250) {
    out.push({
      t: ms,
      sourceRate: 0,
      destinationRate: 0,
      bufferedBytes: 0,
      spoolBytes: 0,
      spoolCapBytes: 4096 * MiB,
      engineVerdict: 'unknown' as Verdict,
      ...f(ms / 1000),
    });
  }
  return out;
}

describe('readBottleneck: what holds the transfer back, in words', () => {
  it('spool filling while the destination writes slower than the host sends: the destination', () => {
    const r = readBottleneck(
      flow(5, (t) => ({
        sourceRate: 100 * MiB,
        destinationRate: 20 * MiB,
        bufferedBytes: t * 80 * MiB,
        spoolBytes: t * 80 * MiB,
      })),
    );
    expect(r.verdict).toBe('destination');
    expect(r.stalled).toBeNull();
    expect(r.text).toMatch(/destination is the bottleneck/i);
  });

  it('buffer empty and the writer keeping pace: the host', () => {
    const r = readBottleneck(
      flow(5, () => ({
        sourceRate: 30 * MiB,
        destinationRate: 30 * MiB,
        bufferedBytes: 64 * 1024,
        engineVerdict: 'source',
      })),
    );
    expect(r.verdict).toBe('source');
    expect(r.text).toMatch(/host is the bottleneck/i);
  });

  it('a destination that accepts nothing is named as stalled, with how long', () => {
    const r = readBottleneck(
      flow(6, (t) => ({
        sourceRate: 50 * MiB,
        destinationRate: t < 2 ? 50 * MiB : 0,
        bufferedBytes: t < 2 ? 0 : (t - 2) * 50 * MiB,
      })),
    );
    expect(r.stalled).toBe('destination');
    expect(r.verdict).toBe('destination');
    expect(r.stalledForMs).toBeGreaterThanOrEqual(3500);
    expect(r.text).toMatch(/destination is the bottleneck: it has accepted nothing for 4 s/i);
  });

  it('a host that sends nothing with an empty buffer is the stalled side', () => {
    const r = readBottleneck(
      flow(5, (t) => ({ sourceRate: t < 1 ? 10 * MiB : 0, destinationRate: t < 1 ? 10 * MiB : 0 })),
    );
    expect(r.stalled).toBe('source');
    expect(r.text).toMatch(/host is the bottleneck: it has sent nothing/i);
  });

  it('a full spool names the destination even when the rates have evened out', () => {
    const r = readBottleneck(
      flow(5, () => ({
        sourceRate: 20 * MiB,
        destinationRate: 20 * MiB,
        bufferedBytes: 4000 * MiB,
        spoolBytes: 3900 * MiB,
      })),
    );
    expect(r.verdict).toBe('destination');
    expect(r.text).toMatch(/spool is full/);
  });

  it('both sides at the same pace with a steady small buffer: balanced', () => {
    const r = readBottleneck(
      flow(5, () => ({
        sourceRate: 40 * MiB,
        destinationRate: 40 * MiB,
        bufferedBytes: 4 * MiB,
        engineVerdict: 'balanced',
      })),
    );
    expect(r.verdict).toBe('balanced');
  });

  it('a run held to its own speed limit names the limit, not the host', () => {
    const r = readBottleneck(
      flow(5, () => ({
        sourceRate: 10 * MiB,
        destinationRate: 10 * MiB,
        bufferedBytes: 64 * 1024,
        engineVerdict: 'source',
      })),
      10 * MiB,
    );
    expect(r.verdict).toBe('limit');
    expect(r.text).toMatch(/speed limit sets the pace/);
    // Well under the limit, the host is named again.
    expect(
      readBottleneck(
        flow(5, () => ({ sourceRate: 2 * MiB, destinationRate: 2 * MiB, bufferedBytes: 0, engineVerdict: 'source' })),
        10 * MiB,
      ).verdict,
    ).toBe('source');
  });

  it('too little history: measuring, not a guess', () => {
    expect(readBottleneck(flow(0.25, () => ({ sourceRate: 1 }))).verdict).toBe('unknown');
    expect(readBottleneck([]).text).toBe('Measuring…');
  });
});

describe('readBottleneck for a restore', () => {
  it('names the ends of a restore: the backup remote sends, the host receives', () => {
    const slowHost = readBottleneck(
      flow(5, (t) => ({
        sourceRate: 100 * MiB,
        destinationRate: 20 * MiB,
        bufferedBytes: t * 80 * MiB,
        spoolBytes: 0,
      })),
      null,
      flowEnds('restore'),
    );
    expect(slowHost.verdict).toBe('destination');
    expect(slowHost.text).toMatch(/^The host is the bottleneck: the backup remote sends faster/);
    const slowRemote = readBottleneck(
      flow(5, (t) => ({ sourceRate: t < 1 ? 10 * MiB : 0, destinationRate: t < 1 ? 10 * MiB : 0 })),
      null,
      flowEnds('restore'),
    );
    expect(slowRemote.text).toMatch(/^The backup remote is the bottleneck: it has sent nothing/);
    expect(
      readBottleneck(
        flow(5, (t) => ({
          sourceRate: 100 * MiB,
          destinationRate: 20 * MiB,
          bufferedBytes: t * 80 * MiB,
          spoolBytes: 0,
        })),
        null,
        flowEnds('job'),
      ).text,
    ).toMatch(/^The destination is the bottleneck: the host sends/);
  });
});
