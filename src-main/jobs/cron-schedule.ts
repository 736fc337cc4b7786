import { Cron } from 'croner';
import { cronLibraryProblem, cronShapeProblem, timezoneProblem } from '../../src-shared/cron-words.js';

/**
 * Cron patterns read by croner in a time zone. Only the arithmetic is used (next fire after a given instant):
 * the timers are the scheduler's own, on an injectable clock, so tests move time instead of sleeping.
 */
export function parseCron(pattern: string, timezone: string): Cron {
  return new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
}

/**
 * Why a pattern or its time zone cannot be used, in words: each field's own problem, so a bad time zone does
 * not hide a bad pattern (the pattern is then read in UTC). Empty when both are fine.
 */
export function cronProblems(
  pattern: string,
  timezone: string,
): Array<{ field: 'cron' | 'timezone'; message: string }> {
  const problems: Array<{ field: 'cron' | 'timezone'; message: string }> = [];
  const zone = timezoneProblem(timezone);
  if (zone) problems.push({ field: 'timezone', message: zone });
  const shape = cronShapeProblem(pattern);
  if (shape) return [...problems, { field: 'cron', message: shape }];
  let cron: Cron;
  try {
    cron = parseCron(pattern, zone ? 'UTC' : timezone);
  } catch (err) {
    return [...problems, { field: 'cron', message: cronLibraryProblem(pattern, (err as Error).message) }];
  }
  if (cron.nextRun(new Date()) === null)
    problems.push({ field: 'cron', message: `"${pattern}" never fires: no date has that day in that month` });
  return problems;
}

/** The first fire strictly after `after`, or null if the pattern has no more. */
export function nextFire(pattern: string, timezone: string, after: Date): Date | null {
  return parseCron(pattern, timezone).nextRun(after);
}

/** Fires in (after, until], at most `cap` of them (a schedule every second left alone for a month is not listed in full). */
export function firesBetween(
  pattern: string,
  timezone: string,
  after: Date,
  until: Date,
  cap = 1000,
): { count: number; last: Date | null; capped: boolean } {
  const cron = parseCron(pattern, timezone);
  let count = 0;
  let last: Date | null = null;
  let t: Date | null = cron.nextRun(after);
  while (t && t.getTime() <= until.getTime()) {
    count++;
    last = t;
    if (count >= cap) {
      // Jump to the last fire before `until` without walking every one.
      const prev = cron.previousRuns(1, until)[0];
      return { count, last: prev ?? last, capped: true };
    }
    t = cron.nextRun(t);
  }
  return { count, last, capped: false };
}
