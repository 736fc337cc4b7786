/**
 * What is wrong with a cron pattern or a time zone, in the admin's words, for the engine (jobs.save) and the job
 * form alike. Checked here before croner reads the pattern, because croner's own messages name its internals
 * ("exactly five, six, or seven space separated parts are required") rather than what to type.
 */

type Field = readonly [name: string, min: number, max: number];
const FIELDS: readonly Field[] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of the month', 1, 31],
  ['month', 1, 12],
  ['day of the week', 0, 7],
];
const SECONDS: Field = ['second', 0, 59];
const SHAPE = 'a cron pattern has 5 fields (minute hour day month weekday), e.g. "0 2 * * *" for every day at 02:00';

const unreadable = (p: string, why: string) => `"${p}" is not a cron pattern Sluice can read: ${why}`;

/** The pattern's field count and plain numbers (each within its field's range); null when they are fine. */
export function cronShapeProblem(pattern: string): string | null {
  const p = pattern.trim();
  if (!p) return 'Enter a cron pattern, e.g. "0 2 * * *" for every day at 02:00';
  const parts = p.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6)
    return unreadable(p, `it has ${parts.length} field${parts.length === 1 ? '' : 's'}, and ${SHAPE}`);
  const fields = parts.length === 6 ? [SECONDS, ...FIELDS] : FIELDS;
  for (const [i, part] of parts.entries()) {
    const [name, min, max] = fields[i]!;
    // A step ("*/15") is not a value of the field; every end of a range or a list item is.
    const values = part.split(',').flatMap((item) => item.split('/')[0]!.split('-'));
    for (const v of values) {
      const n = /^\d+/.exec(v);
      if (n && (Number(n[0]) < min || Number(n[0]) > max))
        return unreadable(p, `${n[0]} is not a valid ${name} (use ${min} to ${max})`);
    }
  }
  return null;
}

/** croner's refusal of a pattern that passed cronShapeProblem, said without croner's internals. */
export function cronLibraryProblem(pattern: string, libraryMessage: string): string {
  const p = pattern.trim();
  const entry = /configuration entry \d+ \((.*)\) contains illegal characters/.exec(libraryMessage);
  if (entry) return unreadable(p, `"${entry[1]}" is not a number, a range (1-5), a list (1,3), a step (*/15) or *`);
  const value = /Invalid value for (\w+): (.*)$/.exec(libraryMessage);
  if (value) return unreadable(p, `"${value[2]}" is not a valid ${value[1]}`);
  const stepping = /illegal stepping: (.*)$/.exec(libraryMessage);
  if (stepping) return unreadable(p, `the step ${stepping[1]} is not one (use */N with N of at least 1)`);
  return unreadable(p, SHAPE);
}

/** Whether the engine can read times in this zone; null when it can. */
export function timezoneProblem(timezone: string): string | null {
  const tz = timezone.trim();
  if (!tz) return 'Enter a time zone, e.g. Europe/Paris or UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return null;
  } catch {
    return `"${tz}" is not a time zone Sluice knows; use an IANA name such as Europe/Paris, America/New_York or UTC`;
  }
}
