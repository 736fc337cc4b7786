import { describe, expect, it } from 'vitest';
import {
  BYTE_INCRS,
  clock,
  tickBytes,
  tickRate,
  TIME_INCRS,
} from '../../../src-renderer/src/shared/runs/graph-axes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('the graph axes tick at round values', () => {
  it('every multiple of a byte step reads exactly in binary units, never "976.6 KiB"', () => {
    for (const step of BYTE_INCRS.filter((s) => s >= KiB && s <= 512 * MiB))
      // A 240 px graph has room for a dozen ticks at most.
      for (let k = 1; k <= 12; k++) {
        const label = tickBytes(k * step);
        const [n, unit] = label.split(' ') as [string, string];
        const scale = { B: 1, KiB, MiB, GiB: 1024 * MiB }[unit as 'B' | 'KiB' | 'MiB' | 'GiB'];
        expect(Number(n) * scale, label).toBe(k * step);
      }
    expect(tickBytes(0)).toBe('0 B');
    expect(tickBytes(512 * KiB)).toBe('512 KiB');
    expect(tickBytes(1.5 * MiB)).toBe('1.5 MiB');
    expect(tickRate(4 * MiB)).toBe('4 MiB/s');
  });

  it('time steps are whole seconds, so no two ticks read the same', () => {
    expect(TIME_INCRS.every((s) => Number.isInteger(s))).toBe(true);
    expect([0, 1, 2, 3].map(clock)).toEqual(['0:00', '0:01', '0:02', '0:03']);
    expect(clock(3723)).toBe('1:02:03');
  });
});
