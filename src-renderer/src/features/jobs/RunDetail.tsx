import { useEffect, useMemo, useState } from 'react';
import type { RunRecord } from '../../../../src-shared/contract/runs';
import { useClient } from '../../client/client-context';
import { formatBytes, formatRate } from '../../../../src-shared/units';
import { storeFromRecord } from '../../shared/runs/run-results';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { TransferGraph } from '../../shared/runs/TransferGraph';

/** One past run: its graph from the stored samples, per-VM results, errors in words, and a summary to copy. */
export function RunDetail({ runId }: { runId: string }) {
  const client = useClient();
  const [record, setRecord] = useState<RunRecord | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [copied, setCopied] = useState<string | null>(null);
  useEffect(() => {
    setRecord(null);
    client.invoke('runs.get', { runId }).then(setRecord, setError);
  }, [client, runId]);
  const store = useMemo(() => (record ? storeFromRecord(record) : null), [record]);

  const copy = async () => {
    try {
      const s = await client.invoke('runs.summary', { runId });
      await navigator.clipboard.writeText(s.text).catch(() => undefined);
      setCopied(s.text);
    } catch (err) {
      setError(err);
    }
  };

  if (error) return <ErrorMessage error={error} title="Sluice cannot show this run." />;
  if (!record || !store) return <p className="muted">Loading the run…</p>;
  return (
    <section
      className="panel"
      aria-label={`Run of ${record.jobName} at ${new Date(record.startedAt).toLocaleString()}`}
      data-testid="run-detail"
    >
      <h3>
        {record.jobName} · {new Date(record.startedAt).toLocaleString()} <span className="badge">{record.status}</span>
      </h3>
      <p className="muted">
        {record.trigger === 'manual'
          ? 'Started by hand'
          : record.trigger === 'schedule'
            ? 'On schedule'
            : 'Missed run, run at start'}{' '}
        · {record.mode} · {formatBytes(record.bytes)} · average {formatRate(record.averageBytesPerSec)} · peak{' '}
        {formatRate(record.peakBytesPerSec)}
      </p>
      {record.samples.length > 0 ? (
        <TransferGraph store={store} runId={record.runId} label={`Throughput of the run of ${record.jobName}`} />
      ) : (
        <p className="muted">No throughput samples were recorded for this run.</p>
      )}
      <table aria-label="Results per VM">
        <thead>
          <tr>
            <th>VM</th>
            <th>Result</th>
            <th className="n">Bytes</th>
            <th className="n">Average</th>
            <th>Point</th>
          </tr>
        </thead>
        <tbody>
          {record.vms.map((v) => (
            <tr key={v.vmUuid + v.remoteId}>
              <td>{v.vmName}</td>
              <td>
                <span className={`badge ${v.status === 'success' ? 'ok' : v.status === 'failed' ? 'bad' : 'warn'}`}>
                  {v.status}
                </span>
                {v.error && (
                  <div className="error-inline">
                    {v.error.message}
                    {v.error.hint && <div className="hint">{v.error.hint}</div>}
                  </div>
                )}
              </td>
              <td className="n">{formatBytes(v.bytes)}</td>
              <td className="n">{formatRate(v.averageBytesPerSec)}</td>
              <td className="mono">{v.pointId ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {record.errors.map((e, i) => (
        <ErrorMessage key={i} error={e} />
      ))}
      {record.warnings.map((w, i) => (
        <div key={i} className="notice warning">
          {w.message}
        </div>
      ))}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => void copy()}>
          Copy summary
        </button>
      </div>
      {copied && (
        <details open>
          <summary>Summary (copied to the clipboard when the window allows it)</summary>
          <pre className="run-log" data-testid="run-summary-text">
            {copied}
          </pre>
        </details>
      )}
    </section>
  );
}
