import { describe, expect, it } from 'vitest';
import { describeEta, estimateEta, formatSeconds, type DonePoint } from '../../../src-renderer/src/shared/runs/eta.js';

/** Points every 250 ms from 0 to `seconds`, bytes done given by `at(t)` (t in seconds). */
function series(seconds: number, at: (t: number) => number): DonePoint[] {
  const out: DonePoint[] = [];
  for (let ms = 0; ms <= seconds * 1000; ms += 250) out.push({ t: ms, done: at(ms / 1000) });
  return out;
}

const MiB = 1024 * 1024;

describe('estimateEta: an ETA only when it is honest', () => {
  it('no total, no ETA', () => {
    expect(
      estimateEta(
        series(20, (t) => t * MiB),
        null,
      ),
    ).toEqual({ seconds: null, reason: 'unknown-total' });
  });

  it('not before the rate has been measured for 5 s', () => {
    expect(
      estimateEta(
        series(3, (t) => t * MiB),
        100 * MiB,
      ).reason,
    ).toBe('too-early');
  });

  it('a steady rate gives remaining / rate', () => {
    const r = estimateEta(
      series(12, (t) => t * 10 * MiB),
      200 * MiB,
    );
    expect(r).toEqual({ seconds: 8, reason: 'steady' });
  });

  it('a stalled third of the window gives no ETA (never a frozen "0 s left")', () => {
    const r = estimateEta(
      series(12, (t) => Math.min(t, 8) * 10 * MiB),
      200 * MiB,
    );
    expect(r).toEqual({ seconds: null, reason: 'stalled' });
  });

  it('a rate that swings by more than 2x gives no ETA', () => {
    const r = estimateEta(
      series(12, (t) => (t < 8 ? t * MiB : 8 * MiB + (t - 8) * 20 * MiB)),
      500 * MiB,
    );
    expect(r.reason).toBe('unsteady');
  });

  it('done is done', () => {
    expect(estimateEta([{ t: 0, done: 5 }], 5)).toEqual({ seconds: 0, reason: 'finished' });
  });

  it('says why there is no ETA', () => {
    expect(describeEta({ seconds: null, reason: 'unknown-total' })).toEqual({
      value: 'unknown',
      why: 'the total size is not known',
    });
    expect(describeEta({ seconds: 75, reason: 'steady' })).toEqual({ value: '1 min 15 s', why: null });
    expect(formatSeconds(3 * 3600 + 5 * 60)).toBe('3 h 05 min');
  });
});
