/**
 * An ETA only when it can be honest (users.md: Kopia's "0s left" frozen, XO's speed known only after the
 * run): the total must be known, the run must have been measured long enough, and the rate must be steady
 * across the recent past. Otherwise the UI says why there is no ETA instead of inventing one.
 */

export interface DonePoint {
  /** ms */
  t: number;
  /** bytes done at t */
  done: number;
}

export type EtaReading =
  | { seconds: number; reason: 'steady' | 'finished' }
  | { seconds: null; reason: 'unknown-total' | 'too-early' | 'unsteady' | 'stalled' };

export interface EtaOptions {
  /** How much history the rate must cover before any ETA (default 5 s). */
  minSpanMs?: number;
  /** The window the rate is measured over (default 10 s). */
  windowMs?: number;
  /** The fastest third of the window may be at most this many times the slowest (default 2). */
  maxSpread?: number;
}

export function estimateEta(
  points: readonly DonePoint[],
  totalBytes: number | null,
  opts: EtaOptions = {},
): EtaReading {
  const minSpan = opts.minSpanMs ?? 5000;
  const windowMs = opts.windowMs ?? 10_000;
  const maxSpread = opts.maxSpread ?? 2;
  if (totalBytes === null) return { seconds: null, reason: 'unknown-total' };
  const newest = points[points.length - 1];
  if (newest && newest.done >= totalBytes) return { seconds: 0, reason: 'finished' };
  if (!newest || newest.t - points[0]!.t < minSpan) return { seconds: null, reason: 'too-early' };

  const from = newest.t - windowMs;
  const window = points.filter((p) => p.t >= from);
  const first = window[0]!;
  const span = newest.t - first.t;
  if (span < minSpan) return { seconds: null, reason: 'too-early' };

  // Rate in each third of the window: one stalled third, or thirds far apart, make any ETA a guess.
  const thirds: number[] = [];
  for (let k = 0; k < 3; k++) {
    const a = first.t + (span * k) / 3;
    const b = first.t + (span * (k + 1)) / 3;
    thirds.push((doneAt(window, b) - doneAt(window, a)) / ((b - a) / 1000));
  }
  const slowest = Math.min(...thirds);
  const fastest = Math.max(...thirds);
  if (slowest <= 0) return { seconds: null, reason: 'stalled' };
  if (fastest / slowest > maxSpread) return { seconds: null, reason: 'unsteady' };
  const rate = (newest.done - first.done) / (span / 1000);
  return { seconds: Math.max(0, Math.round((totalBytes - newest.done) / rate)), reason: 'steady' };
}

/** Bytes done at time t, interpolated between the points around it. */
function doneAt(points: readonly DonePoint[], t: number): number {
  let prev = points[0]!;
  for (const p of points) {
    if (p.t >= t) {
      if (p.t === prev.t) return p.done;
      return prev.done + ((p.done - prev.done) * (t - prev.t)) / (p.t - prev.t);
    }
    prev = p;
  }
  return prev.done;
}

/** The ETA as a short value (fits a fixed-width cell) and, when there is none, why. */
export function describeEta(r: EtaReading): { value: string; why: string | null } {
  switch (r.reason) {
    case 'steady':
      return { value: formatSeconds(r.seconds), why: null };
    case 'finished':
      return { value: 'done', why: null };
    case 'unknown-total':
      return { value: 'unknown', why: 'the total size is not known' };
    case 'too-early':
      return { value: 'measuring…', why: 'the rate needs a few seconds' };
    case 'unsteady':
      return { value: 'unknown', why: 'the rate is not steady' };
    case 'stalled':
      return { value: 'unknown', why: 'the transfer stalled' };
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
