import { useCallback, useEffect, useRef, useState } from 'react';
import type { BackupPointSummary } from '../../../../src-shared/contract/backups';
import { useRunStore, useStoreVersion } from '../../shared/runs/runs-context';
import { chainText, jobLabel } from './point-view';
import { useClient, useEvent } from '../../client/client-context';
import { ExportDialog } from './ExportDialog';
import { RestoreDialog, type PointTarget } from './RestoreDialog';
import { ConfirmDialog } from '../../shared/ui/Dialog';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { useRemotePoints } from '../../shared/data/use-points';
import { usePools } from '../../shared/data/use-pools';
import { formatBytes } from '../../../../src-shared/units';
import { RunCard } from '../../shared/runs/RunCard';

const OPERATION_KINDS: ReadonlySet<string> = new Set(['restore', 'export', 'verify', 'delete']);

/** The points on each remote, per VM, newest first, with Restore, Export, Verify and Delete; their progress shows here live. */
export function BackupsPage() {
  const data = useRemotePoints();
  const pools = usePools();
  const client = useClient();
  const store = useRunStore();
  useStoreVersion(store);
  const [restoring, setRestoring] = useState<PointTarget | null>(null);
  const [exporting, setExporting] = useState<PointTarget | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<PointTarget | null>(null);
  // The operations' cards sit above the lists: one just started from a point far down is brought into view.
  const operationsRef = useRef<HTMLElement>(null);
  const [revealing, setRevealing] = useState<string | null>(null);
  const started =
    (kind: 'restore' | 'export' | 'verify' | 'delete', point: BackupPointSummary) =>
    (operationId: string, label: string) => {
      store.started(operationId, {
        label,
        vms: [{ uuid: point.vmUuid, name: point.vmName }],
        kind,
        // A delete merges only an incremental point: the card's fields say which.
        ...(kind === 'delete' ? { mode: point.mode } : {}),
      });
      setRevealing(operationId);
    };
  const verify = async (remoteId: string, p: BackupPointSummary) => {
    setError(null);
    try {
      const { operationId } = await client.invoke('points.verify', { remoteId, vmUuid: p.vmUuid, pointId: p.id });
      started('verify', p)(operationId, `Verify of ${p.vmName} ${new Date(p.timestamp).toLocaleString()}`);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (t: PointTarget) => {
    setDeleting(null);
    setError(null);
    try {
      const { operationId } = await client.invoke('points.delete', {
        remoteId: t.remoteId,
        vmUuid: t.point.vmUuid,
        pointId: t.point.id,
      });
      started('delete', t.point)(
        operationId,
        `Delete of ${t.point.vmName} ${new Date(t.point.timestamp).toLocaleString()}`,
      );
    } catch (err) {
      setError(err);
    }
  };
  // Points name their job by id: the names come from the jobs (re-read when they change).
  const [jobs, setJobs] = useState<Array<{ id: string; name: string }> | null>(null);
  const readJobs = useCallback(() => {
    client.invoke('jobs.list', {}).then(setJobs, () => setJobs(null));
  }, [client]);
  useEffect(readJobs, [readJobs]);
  useEvent(
    'settings.changed',
    useCallback((e) => e.section === 'jobs' && readJobs(), [readJobs]),
  );
  const when = (iso: string) => new Date(iso).toLocaleString();
  const operations = store.runs().filter((r) => OPERATION_KINDS.has(r.info?.kind ?? ''));
  const revealed = revealing !== null && operations.some((r) => r.runId === revealing);
  useEffect(() => {
    if (!revealed) return;
    operationsRef.current?.querySelector(`[data-run-id="${revealing}"]`)?.scrollIntoView({ block: 'nearest' });
    setRevealing(null);
  }, [revealed, revealing]);
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Backups</h1>
      <ErrorMessage error={error} />
      {operations.length > 0 && (
        <section aria-label="Restores, exports and verifies" ref={operationsRef}>
          {operations.map((r) => (
            <RunCard key={r.runId} run={r} />
          ))}
        </section>
      )}
      {data.remotes.length === 0 && !data.loading && (
        <p className="muted">No remote yet: add one under Remotes, then back up a VM from Hosts.</p>
      )}
      {data.remotes.map((r) => {
        const points = data.points[r.id] ?? [];
        const byVm = new Map<string, BackupPointSummary[]>();
        for (const p of points) byVm.set(p.vmUuid, [...(byVm.get(p.vmUuid) ?? []), p]);
        return (
          <section key={r.id} className="panel" aria-label={`Backups on ${r.name}`}>
            <h2>
              {r.name} <span className="muted mono">{r.path}</span>
            </h2>
            <ErrorMessage error={data.errors[r.id]} title={`Sluice cannot list the backups on ${r.name}.`} />
            {(data.unreadable[r.id] ?? []).map((u) => (
              <div key={u.path} className="notice warning">
                <strong>Unreadable metadata {u.path}</strong>
                <div className="hint">{u.reason}</div>
              </div>
            ))}
            {points.length === 0 && !data.errors[r.id] && <p className="muted">No backup point yet.</p>}
            {[...byVm.entries()].map(([vmUuid, list]) => (
              <table
                key={vmUuid}
                aria-label={`Backups of ${list[0]!.vmName} on ${r.name}`}
                style={{ marginBottom: 12 }}
              >
                <caption style={{ textAlign: 'left', fontWeight: 600, padding: '4px 0' }}>{list[0]!.vmName}</caption>
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Mode</th>
                    <th className="n">Size</th>
                    <th>Chain</th>
                    <th>Job</th>
                    <th>Point</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {[...list].reverse().map((p) => {
                    const job = jobLabel(p.jobId, jobs);
                    return (
                      <tr key={p.id}>
                        <td className="nowrap">{new Date(p.timestamp).toLocaleString()}</td>
                        <td>
                          <span className="badge">{p.mode === 'full' ? 'full (XVA)' : 'delta (VHD)'}</span>
                        </td>
                        <td className="n">{p.size === null ? 'unknown' : formatBytes(p.size)}</td>
                        <td data-testid="point-chain" className={p.chain.kind === 'broken' ? 'bad-text' : undefined}>
                          {chainText(p.chain, when)}
                        </td>
                        <td data-testid="point-job">
                          {job.gone ? (
                            <>
                              <span className="mono">{job.text}</span> <span className="badge warn">job deleted</span>
                            </>
                          ) : (
                            job.text
                          )}
                        </td>
                        <td className="mono nowrap">{p.id}</td>
                        <td className="nowrap">
                          <button
                            type="button"
                            onClick={() => setRestoring({ remoteId: r.id, point: p })}
                            aria-label={`Restore ${p.vmName} ${p.id}`}
                          >
                            Restore
                          </button>{' '}
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => setExporting({ remoteId: r.id, point: p })}
                            aria-label={`Export ${p.vmName} ${p.id}`}
                          >
                            Export
                          </button>{' '}
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => void verify(r.id, p)}
                            aria-label={`Verify ${p.vmName} ${p.id}`}
                          >
                            Verify
                          </button>{' '}
                          <button
                            type="button"
                            className="secondary"
                            onClick={() => setDeleting({ remoteId: r.id, point: p })}
                            aria-label={`Delete ${p.vmName} ${p.id}`}
                          >
                            Delete
                          </button>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            ))}
          </section>
        );
      })}
      <RestoreDialog
        target={restoring}
        pools={pools}
        onClose={() => setRestoring(null)}
        onStarted={(id, label) => restoring && started('restore', restoring.point)(id, label)}
      />
      <ConfirmDialog
        title={
          deleting
            ? `Delete the backup of ${deleting.point.vmName} from ${new Date(deleting.point.timestamp).toLocaleString()}?`
            : 'Delete'
        }
        open={deleting !== null}
        confirmLabel="Delete point"
        cancelLabel="Keep it"
        danger
        onConfirm={() => deleting && void remove(deleting)}
        onClose={() => setDeleting(null)}
      >
        <p>
          {deleting?.point.mode === 'delta'
            ? 'Its disks are merged into the next point of the chain first (shown below as the merge phase), so every other point stays restorable.'
            : 'Its XVA, checksum and metadata are removed. Other points are not touched.'}
        </p>
      </ConfirmDialog>
      <ExportDialog
        target={exporting}
        onClose={() => setExporting(null)}
        onStarted={(id, label) => exporting && started('export', exporting.point)(id, label)}
      />
    </section>
  );
}
