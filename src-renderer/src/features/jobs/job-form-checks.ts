import { jobInputSchema, type JobInput } from '../../../../src-shared/contract/jobs.js';
import { timezoneProblem } from '../../../../src-shared/cron-words.js';
import type { Issue } from '../../shared/ui/field-issues.js';
import { cronPatternProblem } from './cron-preview.js';

// Which fields of the job form need a change, as they stand now. What the form can tell alone (the contract's
// own schema, the cron patterns, the time zones) is found all at once and re-checked as the admin types, so a
// fixed field loses its error at once; the engine's refusals (a name another job has, say) stay with the field
// they name only while that field keeps the value the engine refused.

/** Every problem found without the engine, one per field (the engine checks the same again on save). */
export function formIssues(input: JobInput): Issue[] {
  const parsed = jobInputSchema.safeParse(input);
  const issues: Issue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  input.schedules?.forEach((s, i) => {
    const zone = timezoneProblem(s.timezone ?? '');
    if (zone) issues.push({ path: `schedules.${i}.timezone`, message: zone });
    const cron = cronPatternProblem(s.cron);
    if (cron) issues.push({ path: `schedules.${i}.cron`, message: cron });
  });
  return firstPerPath(issues);
}

/** The issues to show now: the form's own, and the engine's for fields still holding the value it refused. */
export function currentIssues(input: JobInput, refused: { input: JobInput; issues: Issue[] }): Issue[] {
  const still = refused.issues.filter(
    (i) => JSON.stringify(valueAt(input, i.path)) === JSON.stringify(valueAt(refused.input, i.path)),
  );
  return firstPerPath([...formIssues(input), ...still]);
}

function firstPerPath(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => !seen.has(i.path) && Boolean(seen.add(i.path)));
}

function valueAt(root: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), root);
}
