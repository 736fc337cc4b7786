import { Cron } from 'croner';

/**
 * Cron patterns read by croner in a time zone. Only the arithmetic is used (next fire after a given instant):
 * the timers are the scheduler's own, on an injectable clock, so tests move time instead of sleeping.
 */
export function parseCron(pattern: string, timezone: string): Cron {
  return new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
}

/** Why a pattern or time zone cannot be used, in words; null when both are fine. */
export function cronProblem(pattern: string, timezone: string): { field: 'cron' | 'timezone'; message: string } | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    return {
      field: 'timezone',
      message: `"${timezone}" is not a time zone Sluice knows; use an IANA name such as Europe/Paris, America/New_York or UTC`,
    };
  }
  let cron: Cron;
  try {
    cron = parseCron(pattern, timezone);
  } catch (err) {
    const why = (err as Error).message.replace(/^CronPattern:\s*/, '');
    return {
      field: 'cron',
      message: `"${pattern}" is not a cron pattern Sluice can read (${why}); use 5 fields, minute hour day month weekday, e.g. "0 2 * * *"`,
    };
  }
  if (cron.nextRun(new Date()) === null) return { field: 'cron', message: `"${pattern}" never fires` };
  return null;
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
