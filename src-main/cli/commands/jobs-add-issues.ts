import { SluiceError } from '../../errors/sluice-error.js';

// The engine names a wrong field of a job by its path in jobs.save (`schedules.0.cron`), for a form to
// highlight. A terminal has no highlight: `sluice jobs add` names the flag that set the field instead (or,
// with --file, the field in that file), so the admin knows which part of the command to change.

type Issue = { path: string; message: string };

/** The flag of `jobs add` that sets each top-level field of jobs.save. */
const FLAGS: Record<string, string> = {
  name: '--name',
  hostId: '--host',
  mode: '--mode',
  compression: '--compression',
  vmConcurrency: '--vm-concurrency',
  diskConcurrency: '--disk-concurrency',
  speedLimitBytesPerSec: '--speed-limit',
  fullInterval: '--full-interval',
  missedRuns: '--run-missed',
};

/** The flags of one schedule's fields: each --schedule is one schedule, --timezone and --keep apply to them. */
const SCHEDULE_FLAGS: Record<string, string> = { cron: '--schedule', timezone: '--timezone', retention: '--keep' };

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n % 100 !== 11
      ? 'st'
      : n % 10 === 2 && n % 100 !== 12
        ? 'nd'
        : n % 10 === 3 && n % 100 !== 13
          ? 'rd'
          : 'th';
  return `${n}${suffix}`;
}

/** "--schedule", or "the 2nd --schedule" when the flag was repeated. */
function nth(flag: string, index: string | undefined, count: number): string {
  return count > 1 && index !== undefined ? `the ${ordinal(Number(index) + 1)} ${flag}` : flag;
}

/** The flag that set the field at `path`, as the command line gave it. */
export function flagOfField(path: string, counts: { schedules: number; remotes: number }): string {
  const [field, index, sub] = path.split('.');
  if (field === 'remoteIds') return nth('--remote', index, counts.remotes);
  if (field === 'schedules') {
    const flag = (sub === undefined ? undefined : SCHEDULE_FLAGS[sub]) ?? '--schedule';
    return flag === '--schedule' ? nth(flag, index, counts.schedules) : flag;
  }
  if (field === 'vms') return index === 'excludeVmUuids' ? '--exclude' : '--vm, --tag or --pool';
  return FLAGS[field ?? ''] ?? `--${field}`;
}

/**
 * The engine's refusal of a job, reworded for the command line: each wrong field named by its flag (or by its
 * path in the --file), and a hint that says to change the command, not to look for a highlight.
 */
export function jobsAddRefusal(
  err: unknown,
  job: string | undefined,
  source: { file: string } | { counts: { schedules: number; remotes: number } },
): unknown {
  if (!(err instanceof SluiceError) || err.code !== 'VALIDATION' || !err.issues?.length) return err;
  const issues: Issue[] = err.issues;
  const where = (i: Issue) => ('file' in source ? `"${i.path}" in ${source.file}` : flagOfField(i.path, source.counts));
  return new SluiceError(
    'VALIDATION',
    `${job ? `The job "${job}"` : 'The job'} cannot be saved: ${issues.map((i) => `${where(i)}: ${i.message}`).join('; ')}.`,
    {
      hint:
        'file' in source
          ? `Correct ${issues.length === 1 ? 'that field' : 'those fields'} in ${source.file}, then run the command again.`
          : `Correct ${issues.length === 1 ? 'that flag' : 'those flags'}, then run the command again.`,
      issues,
      context: err.context,
    },
  );
}
