import { describe, expect, it } from 'vitest';
import { longTermTags, planRetention, type RetentionCandidate } from '../../src-main/repository/retention-plan.js';

const at = (iso: string, tags?: RetentionCandidate['tags']): RetentionCandidate => ({
  id: iso,
  timestamp: Date.parse(iso),
  tags,
});

describe('retention plan', () => {
  it('keeps the N newest and deletes the rest, oldest first', () => {
    const points = ['2025-01-01T02:00:00Z', '2025-01-03T02:00:00Z', '2025-01-02T02:00:00Z', '2025-01-04T02:00:00Z'].map(
      (s) => at(s),
    );
    const plan = planRetention(points, { keep: 2 });
    expect(plan.keep.map((k) => k.id)).toEqual(['2025-01-04T02:00:00Z', '2025-01-03T02:00:00Z']);
    expect(plan.remove).toEqual(['2025-01-01T02:00:00Z', '2025-01-02T02:00:00Z']);
    expect(planRetention(points, { keep: 10 }).remove).toEqual([]);
  });

  it('keeps the oldest point of each of the last daily, weekly and monthly buckets that hold points, as XO', () => {
    // Four points a day from 2025-01-25 to 2025-03-03 (Jan 25 is a Saturday; weeks start on Sunday).
    const points: RetentionCandidate[] = [];
    for (let t = Date.parse('2025-01-25T00:00:00Z'); t < Date.parse('2025-03-04T00:00:00Z'); t += 6 * 3600_000)
      points.push(at(new Date(t).toISOString()));
    const plan = planRetention(points, { keep: 2, longTerm: { daily: 3, weekly: 2, monthly: 3 } });
    const kept = Object.fromEntries(plan.keep.map((k) => [k.id, k.reasons]));
    expect(kept).toEqual({
      '2025-03-03T18:00:00.000Z': ['newest 2'],
      '2025-03-03T12:00:00.000Z': ['newest 2'],
      '2025-03-03T00:00:00.000Z': ['daily 2025-03-03'],
      '2025-03-02T00:00:00.000Z': ['daily 2025-03-02', 'weekly 2025-10'],
      '2025-03-01T00:00:00.000Z': ['daily 2025-03-01', 'monthly 2025-03'],
      '2025-02-23T00:00:00.000Z': ['weekly 2025-09'],
      '2025-02-01T00:00:00.000Z': ['monthly 2025-02'],
      '2025-01-25T00:00:00.000Z': ['monthly 2025-01'],
    });
    expect(plan.remove).toHaveLength(points.length - 8);
    expect(plan.remove[0]).toBe('2025-01-25T06:00:00.000Z');
  });

  it('reads buckets in the schedule’s time zone (a 00:30 backup in Paris is its own day); tags never decide', () => {
    const points = [
      at('2025-01-01T23:30:00Z'),
      at('2025-01-02T10:00:00Z', ['daily=1999-01-01']),
      at('2025-01-01T10:00:00Z', { daily: '1999-01-01' }),
    ];
    const paris = planRetention(points, { keep: 1, longTerm: { daily: 2 }, timeZone: 'Europe/Paris' });
    expect(Object.fromEntries(paris.keep.map((k) => [k.id, k.reasons]))).toEqual({
      '2025-01-02T10:00:00Z': ['newest 1'],
      '2025-01-01T23:30:00Z': ['daily 2025-01-02'],
      '2025-01-01T10:00:00Z': ['daily 2025-01-01'],
    });
    expect(paris.remove).toEqual([]);
    const utc = planRetention(points, { keep: 1, longTerm: { daily: 2 } });
    expect(utc.remove).toEqual(['2025-01-01T23:30:00Z']);
  });

  it('keeps yearly buckets too', () => {
    const points = ['2023-03-01', '2023-09-01', '2024-02-01', '2024-11-01', '2025-06-01', '2025-07-01'].map((d) =>
      at(`${d}T02:00:00Z`),
    );
    const plan = planRetention(points, { keep: 1, longTerm: { yearly: 2 } });
    expect(plan.keep.map((k) => [k.id, k.reasons])).toEqual([
      ['2025-07-01T02:00:00Z', ['newest 1']],
      ['2025-06-01T02:00:00Z', ['yearly 2025']],
      ['2024-02-01T02:00:00Z', ['yearly 2024']],
    ]);
  });

  it('counts weeks as XO does across the year boundary, in the zone, and refuses a policy that keeps nothing', () => {
    expect(longTermTags(new Date('2024-12-30T01:00:00Z'))).toEqual({
      daily: '2024-12-30',
      weekly: '2025-01',
      monthly: '2024-12',
      yearly: '2024',
    });
    // A Sunday starts week 2 of 2021 (week 1 ran from 27 December to 2 January).
    expect(longTermTags(new Date('2021-01-03T01:00:00Z')).weekly).toBe('2021-02');
    expect(longTermTags(new Date('2025-12-31T23:30:00Z'), 'Europe/Paris')).toEqual({
      daily: '2026-01-01',
      weekly: '2026-01',
      monthly: '2026-01',
      yearly: '2026',
    });
    expect(() => planRetention([], { keep: 0 })).toThrow(/keep at least the newest point/);
    expect(() => planRetention([], { keep: 1, longTerm: { weekly: -1 } })).toThrow(/weekly/);
    expect(() => planRetention([], { keep: 1, timeZone: 'Mars/Olympus' })).toThrow(/not a time zone/);
  });
});
