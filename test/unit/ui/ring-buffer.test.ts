import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../../src-renderer/src/shared/runs/ring-buffer.js';

describe('RingBuffer (live graph history)', () => {
  it('keeps the newest points, oldest first, once it wraps', () => {
    const r = new RingBuffer(3, 2);
    for (let i = 1; i <= 5; i++) r.push([i, i * 10]);
    expect(r.length).toBe(3);
    const [x, y] = r.columns();
    expect([...x!]).toEqual([3, 4, 5]);
    expect([...y!]).toEqual([30, 40, 50]);
    expect(r.get(0, 0)).toBe(3);
    expect(r.last(1)).toBe(50);
  });

  it('replaces the newest point without growing', () => {
    const r = new RingBuffer(4, 1);
    r.replaceLast([1]);
    r.push([2]);
    r.replaceLast([7]);
    expect([...r.columns()[0]!]).toEqual([1, 7]);
  });

  it('partial buffers and wrap boundaries come out in order', () => {
    const r = new RingBuffer(4, 1);
    expect(r.columns()[0]!.length).toBe(0);
    expect(r.last(0)).toBeUndefined();
    for (let i = 0; i < 6; i++) r.push([i]);
    expect([...r.columns()[0]!]).toEqual([2, 3, 4, 5]);
    r.push([6]);
    expect([...r.columns()[0]!]).toEqual([3, 4, 5, 6]);
    expect(() => r.get(4, 0)).toThrow(RangeError);
  });

  it('a missing column value is NaN (a gap in the graph), not 0', () => {
    const r = new RingBuffer(2, 3);
    r.push([1]);
    expect(Number.isNaN(r.get(0, 2))).toBe(true);
  });

  it('refuses a capacity that cannot hold a point', () => {
    expect(() => new RingBuffer(0, 1)).toThrow(RangeError);
  });
});
