import { useCallback, useEffect, useState } from 'react';
import type { RunSummary } from '../../../../src-shared/contract/runs';
import { useClient, useEvent } from '../../client/client-context';
import { formatBytes } from '../../../../src-shared/units';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { statusTone } from '../../shared/runs/run-status-tone';
import { RunDetail } from './RunDetail';

/** The runs of one job, newest first; pick one to see its detail. Re-read when a run starts or ends. */
export function JobRunHistory({ jobId, jobName }: { jobId: string; jobName: string }) {
  const client = useClient();
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const load = useCallback(
    () => void client.invoke('runs.list', { jobId, limit: 50 }).then(setRuns, setError),
    [client, jobId],
  );
  useEffect(load, [load]);
  useEvent('runs.started', load);
  useEvent('runs.finished', load);
  return (
    <section className="panel" aria-label={`History of ${jobName}`}>
      <h2>History of “{jobName}”</h2>
      <ErrorMessage error={error} />
      {runs?.length === 0 && <p className="muted">No run yet.</p>}
      {runs && runs.length > 0 && (
        <table aria-label="Runs">
          <thead>
            <tr>
              <th>Started</th>
              <th>Trigger</th>
              <th>Status</th>
              <th className="n">Bytes</th>
              <th>VMs</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.runId} data-run-id={r.runId}>
                <td className="nowrap">{new Date(r.startedAt).toLocaleString()}</td>
                <td>{r.trigger}</td>
                <td>
                  <span className={`badge ${statusTone[r.status]}`}>{r.status}</span>
                </td>
                <td className="n">{formatBytes(r.bytes)}</td>
                <td>
                  {r.vms.filter((v) => v.status === 'success').length}/{r.vms.length} ok
                </td>
                <td>
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => setOpen(open === r.runId ? null : r.runId)}
                    aria-expanded={open === r.runId}
                  >
                    {open === r.runId ? 'Hide' : 'Details'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <RunDetail runId={open} />}
    </section>
  );
}
