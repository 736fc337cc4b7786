// Which backup points a job keeps, counted as Xen Orchestra counts them (its _getOldEntries, read for the
// facts), so that both tools rotate the same points of a shared remote: the `keep` newest, plus for each
// long-term period (daily, weekly, monthly, yearly) one point in each of its last N buckets that hold points,
// and that point is the bucket's OLDEST (a week without backups does not use up a weekly slot). Buckets are
// read in the schedule's time zone, so a 00:30 backup in Paris counts for its own day, not the previous one
// in UTC; weeks start on Sunday and week 1 holds 1 January, as XO's default locale counts them. The tags a
// point carries are for display, as in XO: they never decide.
// Pure: the caller lists the points of one job, mode and VM and deletes what the plan says, oldest first.

export type LongTermBucket = 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKETS: readonly LongTermBucket[] = ['daily', 'weekly', 'monthly', 'yearly'];

/**
 * What a schedule keeps after a run: the `keep` newest points of its job and VM, plus one point of each of the
 * last `daily` days, `weekly` weeks, `monthly` months and `yearly` years that hold points, in `timeZone`
 * (IANA, default UTC). Applied after the backup; deleting a delta point merges it into the chain.
 */
export interface RetentionPolicy {
  keep: number;
  longTerm?: Partial<Record<LongTermBucket, number>>;
  timeZone?: string;
}

export interface RetentionCandidate {
  id: string;
  /** Milliseconds since the epoch (the metadata's `timestamp`). */
  timestamp: number;
  /** The metadata's tags (display only). */
  tags?: Record<string, string> | string[] | undefined;
}

export interface RetentionPlan {
  /** Points kept, newest first, each with why (`newest 3`, `daily 2025-01-01`…). */
  keep: Array<{ id: string; reasons: string[] }>;
  /** Points to delete, oldest first (the order a delta chain must be merged in). */
  remove: string[];
}

/** A moment's calendar day in a time zone. */
function dayIn(date: Date, timeZone: string): { y: number; m: number; d: number } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(date)
    .reduce<Record<string, string>>((o, p) => ({ ...o, [p.type]: p.value }), {});
  return { y: Number(parts.year), m: Number(parts.month), d: Number(parts.day) };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `gggg-ww`: weeks from Sunday to Saturday, week 1 the one holding 1 January, its year the Saturday's. */
function weekKey(y: number, m: number, d: number): string {
  const day = Date.UTC(y, m - 1, d);
  const saturday = day + (6 - new Date(day).getUTCDay()) * 86_400_000;
  const weekYear = new Date(saturday).getUTCFullYear();
  const jan1 = Date.UTC(weekYear, 0, 1);
  const firstSaturday = jan1 + (6 - new Date(jan1).getUTCDay()) * 86_400_000;
  return `${weekYear}-${pad((saturday - firstSaturday) / (7 * 86_400_000) + 1)}`;
}

/** The long-term bucket keys of a moment in a time zone: `2025-01-01`, `2025-01` (week), `2025-01`, `2025`. */
export function longTermTags(date: Date, timeZone = 'UTC'): Record<LongTermBucket, string> {
  const { y, m, d } = dayIn(date, timeZone);
  return { daily: `${y}-${pad(m)}-${pad(d)}`, weekly: weekKey(y, m, d), monthly: `${y}-${pad(m)}`, yearly: `${y}` };
}

export function checkRetentionPolicy(policy: RetentionPolicy): void {
  if (!Number.isInteger(policy.keep) || policy.keep < 1) {
    throw new RangeError(`retention must keep at least the newest point (keep ≥ 1), not ${policy.keep}`);
  }
  for (const b of BUCKETS) {
    const n = policy.longTerm?.[b];
    if (n !== undefined && (!Number.isInteger(n) || n < 0))
      throw new RangeError(`long-term retention ${b} must be a whole number ≥ 0, not ${n}`);
  }
  if (policy.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: policy.timeZone });
    } catch {
      throw new RangeError(`"${policy.timeZone}" is not a time zone this system knows`);
    }
  }
}

export function planRetention(points: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionPlan {
  checkRetentionPolicy(policy);
  const timeZone = policy.timeZone ?? 'UTC';
  const newestFirst = [...points].sort((a, b) => b.timestamp - a.timestamp || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>();
  const why = (id: string, r: string) => reasons.set(id, [...(reasons.get(id) ?? []), r]);
  newestFirst.slice(0, policy.keep).forEach((p) => why(p.id, `newest ${policy.keep}`));
  const keys = new Map(newestFirst.map((p) => [p.id, longTermTags(new Date(p.timestamp), timeZone)]));
  for (const bucket of BUCKETS) {
    const wanted = policy.longTerm?.[bucket] ?? 0;
    // Walking from the newest, each new key takes a slot; within a bucket the older point replaces the newer.
    const chosen = new Map<string, string>();
    for (const p of newestFirst) {
      const key = keys.get(p.id)![bucket];
      if (!chosen.has(key) && chosen.size >= wanted) break;
      chosen.set(key, p.id);
    }
    for (const [key, id] of chosen) why(id, `${bucket} ${key}`);
  }
  return {
    keep: newestFirst.filter((p) => reasons.has(p.id)).map((p) => ({ id: p.id, reasons: reasons.get(p.id)! })),
    remove: newestFirst
      .filter((p) => !reasons.has(p.id))
      .map((p) => p.id)
      .reverse(),
  };
}
