import { useCallback, useEffect, useState } from 'react';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import type { JobView } from '../../../../src-shared/contract/jobs';
import { navigate } from '../../app/navigation';
import { useClient, useEvent } from '../../client/client-context';
import { ConfirmDialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { JobFormView } from './JobFormView';
import { statusTone } from '../../shared/runs/run-status-tone';
import { JobRunHistory } from './JobRunHistory';
import { formatInZone } from '../../shared/time/zoned-time';
import { usePools } from '../../shared/data/use-pools';
import { emptyJobForm, formFromJob, type JobForm } from './job-form-model';

/** The backup jobs: what they back up, when they run next, how their last run went; create, edit, run, delete. */
export function JobsPage() {
  const client = useClient();
  const pools = usePools();
  const [jobs, setJobs] = useState<JobView[] | null>(null);
  const [remotes, setRemotes] = useState<RemoteSummary[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<JobForm | null>(null);
  const [history, setHistory] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<JobView | null>(null);

  const load = useCallback(() => {
    client.invoke('jobs.list', {}).then(setJobs, setError);
    client.invoke('remotes.list', {}).then(setRemotes, setError);
  }, [client]);
  useEffect(load, [load]);
  useEvent(
    'settings.changed',
    useCallback((e) => (e.section === 'jobs' || e.section === 'remotes') && load(), [load]),
  );
  useEvent('runs.started', load);
  useEvent('runs.finished', load);

  const runNow = async (job: JobView) => {
    setError(null);
    try {
      await client.invoke('jobs.runNow', { id: job.id });
      navigate('transfers');
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (job: JobView) => {
    try {
      await client.invoke('jobs.remove', { id: job.id });
      if (history === job.id) setHistory(null);
      load();
    } catch (err) {
      setError(err);
    }
  };

  // A backup job needs a pool and a remote; a mirror job two remotes.
  const canCreate = remotes.length > 0 && (pools.hosts.length > 0 || remotes.length > 1);
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Jobs</h1>
      <ErrorMessage error={error} />
      {!editing && (
        <div className="actions" style={{ justifyContent: 'flex-start' }}>
          <button
            type="button"
            disabled={!canCreate}
            onClick={() =>
              setEditing(
                pools.hosts.length > 0
                  ? emptyJobForm(
                      pools.hosts[0]!.id,
                      remotes.slice(0, 1).map((r) => r.id),
                    )
                  : { ...emptyJobForm('', []), kind: 'mirror', selection: 'pool' },
              )
            }
          >
            New job
          </button>
          {!canCreate && (
            <span className="muted">
              A job needs a pool (Hosts) and a remote (Remotes), or two remotes to mirror one to the other.
            </span>
          )}
        </div>
      )}
      {editing && (
        <JobFormView
          // Keys are matched among all of this section's children: the job's history, below, is keyed by the
          // same id, and two siblings sharing a key made React stack a new form on each Edit.
          key={`form-${editing.id ?? 'new'}`}
          initial={editing}
          hosts={pools.hosts}
          inventories={pools.inventories}
          remotes={remotes}
          onCancel={() => setEditing(null)}
          onSaved={(job) => {
            setEditing(null);
            setHistory(job.id);
            load();
          }}
        />
      )}
      {jobs?.length === 0 && !editing && (
        <p className="muted">
          No job yet. A job backs up VMs on a schedule, keeps the points you ask for, and can be run by hand.
        </p>
      )}
      {jobs && jobs.length > 0 && (
        <table aria-label="Jobs">
          <thead>
            <tr>
              <th>Name</th>
              <th>Mode</th>
              <th>Next run</th>
              <th>Last run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => {
              const next = j.nextRuns[0];
              return (
                <tr key={j.id} data-job={j.name}>
                  <td>
                    {j.name} {!j.enabled && <span className="badge warn">disabled</span>}
                  </td>
                  <td>
                    {j.mirrorFrom !== undefined
                      ? `mirror of ${remotes.find((r) => r.id === j.mirrorFrom)?.name ?? j.mirrorFrom} (${j.mode === 'full' ? 'full points' : 'incremental points'})`
                      : j.mode}
                  </td>
                  <td className="nowrap">
                    {next ? (
                      formatInZone(next.at, j.schedules.find((s) => s.id === next.scheduleId)?.timezone ?? 'UTC')
                    ) : (
                      <span className="muted">not scheduled</span>
                    )}
                  </td>
                  <td>
                    {j.runningRunId ? (
                      <span className="badge info">running</span>
                    ) : j.lastRun ? (
                      <>
                        <span className={`badge ${statusTone[j.lastRun.status]}`}>{j.lastRun.status}</span>{' '}
                        <span className="muted">{new Date(j.lastRun.startedAt).toLocaleString()}</span>
                      </>
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td className="nowrap">
                    <button
                      type="button"
                      onClick={() => void runNow(j)}
                      disabled={j.runningRunId !== null}
                      aria-label={`Run ${j.name} now`}
                    >
                      Run now
                    </button>{' '}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => setEditing(formFromJob(j))}
                      aria-label={`Edit ${j.name}`}
                    >
                      Edit
                    </button>{' '}
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => setHistory(history === j.id ? null : j.id)}
                      aria-label={`History of ${j.name}`}
                    >
                      History
                    </button>{' '}
                    <button
                      type="button"
                      className="danger"
                      onClick={() => setDeleting(j)}
                      aria-label={`Delete ${j.name}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {history && jobs?.some((j) => j.id === history) && (
        <JobRunHistory key={`history-${history}`} jobId={history} jobName={jobs.find((j) => j.id === history)!.name} />
      )}
      <ConfirmDialog
        title={deleting ? `Delete the job “${deleting.name}”?` : 'Delete the job?'}
        open={deleting !== null}
        confirmLabel="Delete the job"
        cancelLabel="Keep it"
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onClose={() => setDeleting(null)}
      >
        <p>Its schedules stop. The backup points it made stay on the remotes (delete them under Backups).</p>
      </ConfirmDialog>
    </section>
  );
}
