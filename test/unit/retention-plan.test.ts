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

  it('keeps the newest point of each of the last daily, weekly and monthly buckets that hold points', () => {
    // Four points a day from 2025-01-25 to 2025-03-03 (Jan 25 is a Saturday).
    const points: RetentionCandidate[] = [];
    for (let t = Date.parse('2025-01-25T00:00:00Z'); t < Date.parse('2025-03-04T00:00:00Z'); t += 6 * 3600_000)
      points.push(at(new Date(t).toISOString()));
    const plan = planRetention(points, { keep: 2, longTerm: { daily: 3, weekly: 2, monthly: 3 } });
    const kept = Object.fromEntries(plan.keep.map((k) => [k.id, k.reasons]));
    expect(kept).toEqual({
      '2025-03-03T18:00:00.000Z': ['newest 2', 'daily 2025-03-03', 'weekly 2025-W10', 'monthly 2025-03'],
      '2025-03-03T12:00:00.000Z': ['newest 2'],
      '2025-03-02T18:00:00.000Z': ['daily 2025-03-02', 'weekly 2025-W09'],
      '2025-03-01T18:00:00.000Z': ['daily 2025-03-01'],
      '2025-02-28T18:00:00.000Z': ['monthly 2025-02'],
      '2025-01-31T18:00:00.000Z': ['monthly 2025-01'],
    });
    expect(plan.remove).toHaveLength(points.length - 6);
    expect(plan.remove[0]).toBe('2025-01-25T00:00:00.000Z');
  });

  it('takes buckets from the tags written at backup time over the time stamp (either XO tag form)', () => {
    const points = [
      at('2025-01-01T23:30:00Z', { daily: '2025-01-02' }),
      at('2025-01-02T10:00:00Z', ['daily=2025-01-02']),
      at('2025-01-01T10:00:00Z'),
    ];
    const plan = planRetention(points, { keep: 1, longTerm: { daily: 2 } });
    expect(plan.keep.map((k) => k.id)).toEqual(['2025-01-02T10:00:00Z', '2025-01-01T10:00:00Z']);
    expect(plan.remove).toEqual(['2025-01-01T23:30:00Z']);
  });

  it('computes ISO weeks across the year boundary, and refuses a policy that keeps nothing', () => {
    expect(longTermTags(new Date('2024-12-30T01:00:00Z'))).toEqual({
      daily: '2024-12-30',
      weekly: '2025-W01',
      monthly: '2024-12',
    });
    expect(longTermTags(new Date('2021-01-03T01:00:00Z')).weekly).toBe('2020-W53');
    expect(() => planRetention([], { keep: 0 })).toThrow(/keep at least the newest point/);
    expect(() => planRetention([], { keep: 1, longTerm: { weekly: -1 } })).toThrow(/weekly/);
  });
});
