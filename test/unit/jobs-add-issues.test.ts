import { describe, expect, it } from 'vitest';
import { flagOfField, jobsAddRefusal } from '../../src-main/cli/commands/jobs-add-issues.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';

const refusal = (issues: Array<{ path: string; message: string }>) =>
  new SluiceError('VALIDATION', 'The job "n" cannot be saved: …', {
    hint: 'Correct the highlighted fields and save again.',
    issues,
  });

describe('sluice jobs add names the flag of each wrong field', () => {
  it('maps the fields of jobs.save to the flags that set them, counting repeated flags', () => {
    const counts = { schedules: 2, remotes: 3 };
    expect(flagOfField('name', counts)).toBe('--name');
    expect(flagOfField('hostId', counts)).toBe('--host');
    expect(flagOfField('remoteIds.2', counts)).toBe('the 3rd --remote');
    expect(flagOfField('remoteIds.0', { schedules: 0, remotes: 1 })).toBe('--remote');
    expect(flagOfField('schedules.1.cron', counts)).toBe('the 2nd --schedule');
    expect(flagOfField('schedules.0.timezone', counts)).toBe('--timezone');
    expect(flagOfField('schedules.0.retention.keep', counts)).toBe('--keep');
    expect(flagOfField('vms.excludeVmUuids.0', counts)).toBe('--exclude');
    expect(flagOfField('vmConcurrency', counts)).toBe('--vm-concurrency');
    expect(flagOfField('compression', counts)).toBe('--compression');
  });

  it('rewords the refusal for flags, or for the fields of a --file, with no word of highlighting', () => {
    const issues = [
      { path: 'compression', message: 'Host-side compression applies to full backups only' },
      { path: 'schedules.0.timezone', message: '"Mars/Olympus" is not a time zone Sluice knows' },
    ];
    const flags = jobsAddRefusal(refusal(issues), 'n', { counts: { schedules: 1, remotes: 1 } }) as SluiceError;
    expect(flags.message).toBe(
      'The job "n" cannot be saved: --compression: Host-side compression applies to full backups only; ' +
        '--timezone: "Mars/Olympus" is not a time zone Sluice knows.',
    );
    expect(flags.hint).toBe('Correct those flags, then run the command again.');
    const file = jobsAddRefusal(refusal(issues.slice(1)), 'n', { file: 'job.json' }) as SluiceError;
    expect(file.message).toBe(
      'The job "n" cannot be saved: "schedules.0.timezone" in job.json: "Mars/Olympus" is not a time zone Sluice knows.',
    );
    expect(file.hint).toBe('Correct that field in job.json, then run the command again.');
  });

  it('leaves any other error as it is', () => {
    const other = new SluiceError('NOT_FOUND', 'No configured pool is "x".');
    expect(jobsAddRefusal(other, 'n', { file: 'job.json' })).toBe(other);
  });
});
