import type { BackupPointSummary } from '../../../src-shared/ipc-contract';
import { ErrorMessage } from '../components/ErrorMessage';
import { useRemotePoints } from '../data/use-points';
import { formatBytes } from '../format/units';

/** The points on each remote, per VM, newest first. Restore, export, verify and delete plug in here. */
export function BackupsPage() {
  const data = useRemotePoints();
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Backups</h1>
      {data.remotes.length === 0 && !data.loading && <p className="muted">No remote yet: add one under Remotes, then back up a VM from Hosts.</p>}
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
              <table key={vmUuid} aria-label={`Backups of ${list[0]!.vmName} on ${r.name}`} style={{ marginBottom: 12 }}>
                <caption style={{ textAlign: 'left', fontWeight: 600, padding: '4px 0' }}>{list[0]!.vmName}</caption>
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Mode</th>
                    <th className="n">Size</th>
                    <th>Job</th>
                    <th>Point</th>
                  </tr>
                </thead>
                <tbody>
                  {[...list].reverse().map((p) => (
                    <tr key={p.id}>
                      <td className="nowrap">{new Date(p.timestamp).toLocaleString()}</td>
                      <td>
                        <span className="badge">{p.mode === 'full' ? 'full (XVA)' : 'delta (VHD)'}</span>
                      </td>
                      <td className="n">{p.size === null ? 'unknown' : formatBytes(p.size)}</td>
                      <td className="mono">{p.jobId}</td>
                      <td className="mono">{p.id}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
          </section>
        );
      })}
    </section>
  );
}
