import { describe, expect, it } from 'vitest';
import { jobInputSchema, type Job } from '../../../src-shared/contract/jobs.js';
import { describeCron, previewCron } from '../../../src-renderer/src/features/jobs/cron-preview.js';
import { emptyJobForm, formFromJob, jobInputFromForm } from '../../../src-renderer/src/features/jobs/job-form-model.js';
import { currentIssues, formIssues } from '../../../src-renderer/src/features/jobs/job-form-checks.js';
import { issueAt } from '../../../src-renderer/src/shared/ui/field-issues.js';
import { sharedNames, vmLabel } from '../../../src-renderer/src/shared/data/vm-names.js';

const VM = '11111111-2222-3333-4444-555555555555';

describe('cron preview', () => {
  it('names common patterns in words and lists the next runs in the time zone', () => {
    const p = previewCron('30 2 * * *', 'UTC', 3, new Date('2026-03-01T00:00:00Z'));
    expect(p).toEqual({
      ok: true,
      words: 'Every day at 02:30',
      next: [new Date('2026-03-01T02:30:00Z'), new Date('2026-03-02T02:30:00Z'), new Date('2026-03-03T02:30:00Z')],
    });
    const paris = previewCron('0 2 * * *', 'Europe/Paris', 1, new Date('2026-06-30T23:00:00Z'));
    expect(paris.ok && paris.next[0]!.toISOString()).toBe('2026-07-01T00:00:00.000Z');
    expect(describeCron('0 3 * * 0')).toBe('Every Sunday at 03:00');
    expect(describeCron('*/15 * * * *')).toBe('Every 15 minutes');
    expect(describeCron('30 */6 * * *')).toBe('Every 6 hours, at minute 30');
    expect(describeCron('0 1 1 * *')).toBe('On day 1 of every month at 01:00');
    expect(describeCron('0 22 * * 1-5')).toBe('Every weekday (Monday to Friday) at 22:00');
    expect(describeCron('5 4 1-7 * 1')).toBe('Custom pattern');
  });

  it('a bad pattern or time zone is said in words, never a preview', () => {
    const bad = previewCron('61 2 * * *', 'UTC');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toBe(
      '"61 2 * * *" is not a cron pattern Sluice can read: 61 is not a valid minute (use 0 to 59)',
    );
    // A bad time zone is the zone field's to say: the pattern is still read, only its next runs wait.
    expect(previewCron('0 2 * * *', 'Mars/Olympus')).toEqual({ ok: true, words: 'Every day at 02:00', next: [] });
    expect(previewCron('  ', 'UTC')).toMatchObject({ ok: false });
  });
});

describe('job form model', () => {
  it('an empty form plus a VM becomes input the contract accepts, with its defaults', () => {
    const f = { ...emptyJobForm('host-1', ['remote-1']), name: 'Nightly web', vmUuids: [VM] };
    const parsed = jobInputSchema.parse(jobInputFromForm(f));
    expect(parsed).toMatchObject({
      name: 'Nightly web',
      hostId: 'host-1',
      vms: { kind: 'vms', vmUuids: [VM] },
      mode: 'delta',
      remoteIds: ['remote-1'],
      speedLimitBytesPerSec: null,
    });
    expect(parsed.schedules[0]).toMatchObject({ cron: '0 2 * * *', enabled: true, retention: { keep: 7 } });
    expect(parsed.schedules[0]!.retention.longTerm).toBeUndefined();
  });

  it('a saved job round-trips through the form, long-term retention and speed limit included', () => {
    const job: Job = {
      id: 'j1',
      name: 'Weekly',
      hostId: 'h',
      vms: { kind: 'tags', tags: ['prod'], excludeVmUuids: [VM] },
      mode: 'full',
      remoteIds: ['r1', 'r2'],
      schedules: [
        {
          id: 's1',
          name: 'Sun',
          cron: '0 3 * * 0',
          timezone: 'UTC',
          enabled: false,
          retention: { keep: 4, longTerm: { monthly: 12, yearly: 3 } },
        },
      ],
      compression: 'zstd',
      vmConcurrency: 3,
      diskConcurrency: 2,
      speedLimitBytesPerSec: 50 * 1024 * 1024,
      fullInterval: 7,
      missedRuns: 'run-at-start',
      enabled: true,
      createdAt: 'x',
      updatedAt: 'y',
    };
    const { createdAt: _c, updatedAt: _u, ...rest } = job;
    expect(jobInputSchema.parse(jobInputFromForm(formFromJob(job)))).toEqual(rest);
  });

  it('a number field left empty or not a number is refused by the contract at that field', () => {
    const f = { ...emptyJobForm('h', ['r']), name: 'x', vmUuids: [VM], vmConcurrency: 'two' };
    f.schedules[0]!.keep = '';
    const r = jobInputSchema.safeParse(JSON.parse(JSON.stringify(jobInputFromForm(f))));
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['vmConcurrency', 'schedules.0.retention.keep']));
  });

  it("issueAt finds a field's issues, nested ones included, and nothing for others", () => {
    const issues = [
      { path: 'schedules.0.cron', message: 'bad cron' },
      { path: 'vms.vmUuids', message: 'Pick at least one VM' },
      { path: 'name', message: 'taken' },
    ];
    expect(issueAt(issues, 'schedules.0.cron')).toBe('bad cron');
    expect(issueAt(issues, 'schedules.1.cron')).toBeUndefined();
    expect(issueAt(issues, 'vms')).toBe('Pick at least one VM');
    expect(issueAt(issues, 'name')).toBe('taken');
    expect(issueAt(undefined, 'name')).toBeUndefined();
  });
});

describe('job form checks', () => {
  it('finds every problem at once, a bad zone and a bad pattern each at its own field, in words', () => {
    const f = { ...emptyJobForm('h', ['r']), vmConcurrency: 'two' };
    f.schedules[0] = { ...f.schedules[0]!, cron: '0 2 * *', timezone: 'Mars/Olympus', keep: '' };
    const issues = formIssues(jobInputFromForm(f));
    expect(Object.fromEntries(issues.map((i) => [i.path, i.message]))).toEqual({
      name: 'Give the job a name',
      'vms.vmUuids': 'Pick at least one VM',
      vmConcurrency: 'Enter a whole number of VMs from 1 to 16',
      'schedules.0.retention.keep': 'Enter how many points to keep, e.g. 7',
      'schedules.0.timezone': expect.stringMatching(/^"Mars\/Olympus" is not a time zone Sluice knows/),
      'schedules.0.cron': expect.stringMatching(/^"0 2 \* \*" is not a cron pattern Sluice can read: it has 4 fields/),
    });
  });

  it("keeps the engine's refusal of a field only while that field keeps the refused value", () => {
    const f = { ...emptyJobForm('h', ['r']), name: 'nightly', vmUuids: [VM] };
    const refused = {
      input: jobInputFromForm(f),
      issues: [{ path: 'name', message: 'Another job is already named "nightly"' }],
    };
    expect(currentIssues(jobInputFromForm(f), refused)).toEqual(refused.issues);
    expect(currentIssues(jobInputFromForm({ ...f, name: 'nightly 2' }), refused)).toEqual([]);
  });

  it('names the VMs two or more share, and only those', () => {
    const shared = sharedNames([
      { uuid: 'a', name: 'erp-db' },
      { uuid: 'b', name: 'erp-db' },
      { uuid: 'c', name: 'mail' },
      { uuid: 'c', name: 'mail' },
    ]);
    expect([...shared]).toEqual(['erp-db']);
    expect(vmLabel({ uuid: 'a', name: 'erp-db' }, shared)).toBe('erp-db (a)');
    expect(vmLabel({ uuid: 'c', name: 'mail' }, shared)).toBe('mail');
  });
});
