import { previewCron } from './cron-preview';
import { newSchedule, type ScheduleForm } from './job-form-model';
import { FieldIssue } from '../../shared/ui/FieldIssue';
import { formatInZone } from '../../shared/time/zoned-time';

type IssueAt = (path: string) => string | undefined;

/** The job's schedules: a cron pattern with what it means and when it fires next, and what each one keeps. */
export function ScheduleEditor({
  schedules,
  onChange,
  issueAt,
}: {
  schedules: ScheduleForm[];
  onChange: (s: ScheduleForm[]) => void;
  issueAt: IssueAt;
}) {
  const set = (i: number, patch: Partial<ScheduleForm>) =>
    onChange(schedules.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  return (
    <fieldset>
      <legend>Schedules</legend>
      {schedules.length === 0 && <p className="muted">No schedule: the job runs only when you press “Run now”.</p>}
      {schedules.map((s, i) => {
        const preview = previewCron(s.cron, s.timezone);
        const cronIssue = issueAt(`schedules.${i}.cron`);
        const field = (
          name: keyof ScheduleForm,
          label: string,
          extra: { inputMode?: 'numeric'; placeholder?: string } = {},
        ) => {
          const path =
            name === 'keep'
              ? 'retention.keep'
              : name === 'daily' || name === 'weekly' || name === 'monthly' || name === 'yearly'
                ? `retention.longTerm.${name}`
                : name;
          const issue = issueAt(`schedules.${i}.${path}`);
          const issueId = `schedules-${i}-${name}`;
          return (
            <label>
              {label}
              <input
                value={String(s[name] ?? '')}
                onChange={(e) => set(i, { [name]: e.target.value })}
                aria-invalid={issue ? true : undefined}
                aria-describedby={issue ? issueId : undefined}
                {...extra}
              />
              <FieldIssue id={issueId} message={issue} />
            </label>
          );
        };
        return (
          <div key={s.id ?? i} className="schedule panel" aria-label={`Schedule ${i + 1}`}>
            <div className="form-grid">
              {field('name', 'Name')}
              <label>
                Cron pattern (minute hour day month weekday)
                <input
                  value={s.cron}
                  onChange={(e) => set(i, { cron: e.target.value })}
                  className="mono"
                  aria-invalid={cronIssue ? true : undefined}
                  aria-describedby={`schedules-${i}-cron-preview${cronIssue ? ` schedules-${i}-cron` : ''}`}
                />
                <span className="help" id={`schedules-${i}-cron-preview`} data-testid={`cron-preview-${i}`}>
                  {preview.ok
                    ? preview.next.length
                      ? `${preview.words}. Next: ${preview.next.map((d) => formatInZone(d, s.timezone.trim())).join(' · ')}`
                      : `${preview.words}. The next runs show once the time zone is one Sluice knows.`
                    : cronIssue
                      ? ''
                      : preview.message}
                </span>
                <FieldIssue id={`schedules-${i}-cron`} message={cronIssue} />
              </label>
              {field('timezone', 'Time zone')}
              {field('keep', 'Keep the last N points', { inputMode: 'numeric' })}
              {field('daily', 'Also keep daily (days)', { inputMode: 'numeric', placeholder: 'none' })}
              {field('weekly', 'Weekly (weeks)', { inputMode: 'numeric', placeholder: 'none' })}
              {field('monthly', 'Monthly (months)', { inputMode: 'numeric', placeholder: 'none' })}
              {field('yearly', 'Yearly (years)', { inputMode: 'numeric', placeholder: 'none' })}
            </div>
            <div className="actions" style={{ justifyContent: 'space-between' }}>
              <label className="check">
                <input type="checkbox" checked={s.enabled} onChange={(e) => set(i, { enabled: e.target.checked })} />{' '}
                Enabled
              </label>
              <button type="button" className="secondary" onClick={() => onChange(schedules.filter((_, j) => j !== i))}>
                Remove schedule
              </button>
            </div>
          </div>
        );
      })}
      <button type="button" className="secondary" onClick={() => onChange([...schedules, newSchedule()])}>
        Add a schedule
      </button>
    </fieldset>
  );
}
