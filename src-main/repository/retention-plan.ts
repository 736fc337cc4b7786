// Which backup points a job keeps: the `keep` newest, plus the newest point of each of the last `daily` days,
// `weekly` ISO weeks and `monthly` months that have a point (XO's long-term retention counts buckets that hold
// backups, so a week without backups does not use up a weekly slot). A point's buckets come from its metadata
// tags when it has them (written at backup time, so they never move), else from its time stamp in UTC.
// Pure: the caller lists the points of one job and VM and deletes what the plan says, oldest first.

/**
 * What a job keeps after a run (issue 5): the `keep` newest points of this job and VM, plus the newest point of
 * each of the last `daily` days, `weekly` ISO weeks and `monthly` months (long-term buckets, recorded as tags in
 * the metadata). Applied after the backup; deleting a delta point merges it into the chain.
 */
export interface RetentionPolicy {
  keep: number;
  longTerm?: { daily?: number; weekly?: number; monthly?: number };
}

export type LongTermBucket = 'daily' | 'weekly' | 'monthly';
const BUCKETS: readonly LongTermBucket[] = ['daily', 'weekly', 'monthly'];

export interface RetentionCandidate {
  id: string;
  /** Milliseconds since the epoch (the metadata's `timestamp`). */
  timestamp: number;
  /** The metadata's tags, as XO allows them: a map, or a list of `key=value` strings. */
  tags?: Record<string, string> | string[] | undefined;
}

export interface RetentionPlan {
  /** Points kept, newest first, each with why (`newest 3`, `daily 2025-01-01`…). */
  keep: Array<{ id: string; reasons: string[] }>;
  /** Points to delete, oldest first (the order a delta chain must be merged in). */
  remove: string[];
}

/** The long-term bucket keys of a moment in UTC: `daily=2025-01-01`, `weekly=2025-W01`, `monthly=2025-01`. */
export function longTermTags(date: Date): Record<LongTermBucket, string> {
  const iso = date.toISOString();
  return { daily: iso.slice(0, 10), weekly: isoWeek(date), monthly: iso.slice(0, 7) };
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
}

export function planRetention(points: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionPlan {
  checkRetentionPolicy(policy);
  const newestFirst = [...points].sort((a, b) => b.timestamp - a.timestamp || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>();
  const why = (id: string, r: string) => reasons.set(id, [...(reasons.get(id) ?? []), r]);
  newestFirst.slice(0, policy.keep).forEach((p) => why(p.id, `newest ${policy.keep}`));
  for (const bucket of BUCKETS) {
    const wanted = policy.longTerm?.[bucket] ?? 0;
    const seen = new Set<string>();
    for (const p of newestFirst) {
      if (seen.size >= wanted) break;
      const key = bucketKey(p, bucket);
      if (seen.has(key)) continue;
      seen.add(key);
      why(p.id, `${bucket} ${key}`);
    }
  }
  return {
    keep: newestFirst.filter((p) => reasons.has(p.id)).map((p) => ({ id: p.id, reasons: reasons.get(p.id)! })),
    remove: newestFirst
      .filter((p) => !reasons.has(p.id))
      .map((p) => p.id)
      .reverse(),
  };
}

function bucketKey(p: RetentionCandidate, bucket: LongTermBucket): string {
  const tagged = tagValue(p.tags, bucket);
  return tagged ?? longTermTags(new Date(p.timestamp))[bucket];
}

function tagValue(tags: RetentionCandidate['tags'], key: string): string | undefined {
  if (!tags) return undefined;
  if (Array.isArray(tags)) {
    const hit = tags.find((t) => t.startsWith(`${key}=`));
    return hit?.slice(key.length + 1);
  }
  return typeof tags[key] === 'string' ? tags[key] : undefined;
}

/** ISO 8601 week of a UTC date, e.g. 2025-W01 (weeks start on Monday; week 1 holds the year's first Thursday). */
function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
