import { Cron } from 'croner';
import { cronLibraryProblem, cronShapeProblem, timezoneProblem } from '../../../../src-shared/cron-words.js';

// The schedule field's preview: what a pattern means in words and when it fires next, computed here with the
// same library the engine schedules with, so the form can answer while the admin types.

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export type CronPreview = { ok: true; words: string; next: Date[] } | { ok: false; message: string };

/** What is wrong with the pattern alone (its time zone is the time-zone field's business); null when fine. */
export function cronPatternProblem(pattern: string): string | null {
  const shape = cronShapeProblem(pattern);
  if (shape) return shape;
  try {
    new Cron(pattern.trim(), { paused: true, mode: '5-or-6-parts' });
    return null;
  } catch (err) {
    return cronLibraryProblem(pattern, (err as Error).message);
  }
}

/**
 * The pattern in words and its next runs in `timezone`; with a time zone that is not one, the words only (the
 * zone's own field says what is wrong with it).
 */
export function previewCron(pattern: string, timezone: string, count = 3, now = new Date()): CronPreview {
  const p = pattern.trim();
  const problem = cronPatternProblem(p);
  if (problem) return { ok: false, message: problem };
  if (timezoneProblem(timezone)) return { ok: true, words: describeCron(p), next: [] };
  const next = new Cron(p, { timezone: timezone.trim(), paused: true, mode: '5-or-6-parts' }).nextRuns(count, now);
  if (next.length === 0) return { ok: false, message: `"${p}" never fires: no date has that day in that month` };
  return { ok: true, words: describeCron(p), next };
}

const two = (n: string) => n.padStart(2, '0');
const isNum = (s: string) => /^\d+$/.test(s);

/** The common shapes in words; anything else is called what it is, a custom pattern (the next runs still show). */
export function describeCron(pattern: string): string {
  const f = pattern.trim().split(/\s+/);
  if (f.length !== 5) return 'Custom pattern';
  const [min, hour, dom, mon, dow] = f as [string, string, string, string, string];
  const at = isNum(min) && isNum(hour) ? `at ${two(hour)}:${two(min)}` : null;
  if (min.startsWith('*/') && hour === '*' && dom === '*' && mon === '*' && dow === '*')
    return `Every ${min.slice(2)} minutes`;
  if (isNum(min) && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `Every hour at minute ${min}`;
  if (isNum(min) && /^\*\/\d+$/.test(hour) && dom === '*' && mon === '*' && dow === '*')
    return `Every ${hour.slice(2)} hours, at minute ${Number(min)}`;
  if (at && dom === '*' && mon === '*' && dow === '*') return `Every day ${at}`;
  if (at && dom === '*' && mon === '*' && /^[0-7](,[0-7])*$/.test(dow))
    return `Every ${dow
      .split(',')
      .map((d) => DAYS[Number(d) % 7])
      .join(', ')} ${at}`;
  if (at && dom === '*' && mon === '*' && dow === '1-5') return `Every weekday (Monday to Friday) ${at}`;
  if (at && isNum(dom) && mon === '*' && dow === '*') return `On day ${dom} of every month ${at}`;
  return 'Custom pattern';
}
