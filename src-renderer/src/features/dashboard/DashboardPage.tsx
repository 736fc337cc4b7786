import { navigate } from '../../app/navigation';
import { useRunStore, useStoreVersion } from '../../shared/runs/runs-context';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { statusTone } from '../../shared/runs/run-status-tone';
import { jobRunAttention, type AttentionItem } from './job-run-attention';
import { useDashboard } from './use-dashboard';
import { newestPointByVm, useRemotePoints } from '../../shared/data/use-points';
import { usePools } from '../../shared/data/use-pools';
import { formatAge, formatBytes, formatPercent } from '../../../../src-shared/units';
import { summarise } from '../../shared/runs/live-run-status';
import { NO_BACKUP_TAG } from '../../../../src-shared/vm-tags';
import { runLabel } from '../../shared/runs/RunCard';
import { sharedNames } from '../../shared/data/vm-names';
import { VmName } from '../../shared/ui/VmName';
import { formatInZone } from '../../shared/time/zoned-time';

export function DashboardPage() {
  const pools = usePools();
  const data = useRemotePoints();
  const store = useRunStore();
  useStoreVersion(store, 1000);
  const runs = store.runs();
  const newest = newestPointByVm(data.points);
  const { dashboard, error: dashboardError } = useDashboard();

  const vms = pools.hosts.flatMap((h) => pools.inventories[h.id]?.vms ?? []);
  const excluded = vms.filter((v) => v.tags.includes(NO_BACKUP_TAG));
  const excludedUuids = new Set(excluded.map((v) => v.uuid));
  // The engine's view (every pool, every remote) once it has answered; the inventory's until then.
  const protectedVms: Array<{
    uuid: string;
    name: string;
    point: { pointId: string; at: string; mode: string; jobName: string | null } | null;
  }> = dashboard
    ? dashboard.vms.protected.map((v) => ({ uuid: v.vmUuid, name: v.vmName, point: v.lastGoodPoint }))
    : vms
        .filter((v) => !excludedUuids.has(v.uuid) && newest.has(v.uuid))
        .map((v) => ({ uuid: v.uuid, name: v.name, point: null }));
  const unprotected: Array<{ uuid: string; name: string; reason: string }> = dashboard
    ? dashboard.vms.unprotected
        .filter((v) => !excludedUuids.has(v.vmUuid))
        .map((v) => ({ uuid: v.vmUuid, name: v.vmName, reason: v.reason }))
    : vms
        .filter((v) => !excludedUuids.has(v.uuid) && !newest.has(v.uuid))
        .map((v) => ({ uuid: v.uuid, name: v.name, reason: 'no backup point on any remote' }));
  const running = runs.filter((r) => !r.result);
  const shared = sharedNames([...protectedVms, ...unprotected, ...vms]);

  const attention: AttentionItem[] = [];
  for (const h of pools.hosts) {
    const st = pools.states[h.id];
    if (st?.state === 'error' && st.error) {
      attention.push({
        key: `host-${h.id}`,
        tone: st.error.code === 'CERTIFICATE_CHANGED' ? 'warn' : 'bad',
        text:
          st.error.code === 'CERTIFICATE_CHANGED'
            ? `The certificate of pool ${h.label} changed: ${st.error.message}`
            : `Pool ${h.label} is not connected: ${st.error.message}`,
        hint: st.error.hint,
      });
    }
  }
  for (const r of runs) {
    if (!r.result || r.result.ok) continue;
    const failed = r.result.vms.filter((v) => !v.ok);
    attention.push({
      key: `run-${r.runId}`,
      tone: r.result.cancelled ? 'warn' : 'bad',
      text: `${runLabel(r)} ${r.result.cancelled ? 'was cancelled' : 'failed'} ${formatAge(Date.parse(r.result.finishedAt), Date.now())}${failed[0]?.error ? `: ${failed[0].error.message}` : '.'}`,
      hint: failed[0]?.error?.hint,
    });
  }
  attention.push(...jobRunAttention(dashboard?.lastRuns ?? [], (runId) => store.get(runId)?.result != null));
  for (const h of dashboard?.unreachableHosts ?? []) {
    if (pools.states[h.hostId]?.state === 'error') continue;
    attention.push({
      key: `unreachable-${h.hostId}`,
      tone: 'bad',
      text: `Pool ${h.label} could not be read: ${h.error}`,
      hint: 'Its VMs are known only from their backups. Open Hosts to reconnect.',
    });
  }
  for (const r of data.remotes) {
    const u = data.usage[r.id];
    if (data.errors[r.id])
      attention.push({
        key: `remote-${r.id}`,
        tone: 'bad',
        text: `Remote ${r.name} (${r.path}) cannot be read.`,
        hint: 'Check that the share is mounted; open Remotes and press Test.',
      });
    else if (u && u.freeBytes !== null && u.totalBytes !== null && u.totalBytes > 0 && u.freeBytes / u.totalBytes < 0.1)
      attention.push({
        key: `space-${r.id}`,
        tone: 'warn',
        text: `Remote ${r.name} has only ${formatBytes(u.freeBytes)} free.`,
        hint: 'Free space or lower retention before the next backup.',
      });
    const bad = data.unreadable[r.id] ?? [];
    if (bad.length)
      attention.push({
        key: `unreadable-${r.id}`,
        tone: 'warn',
        text: `${bad.length} backup metadata file(s) on ${r.name} cannot be read.`,
        hint: bad[0]!.reason,
      });
  }
  for (const r of running) {
    const s = summarise(r);
    if (s.bottleneck.stalled)
      attention.push({
        key: `stall-${r.runId}`,
        tone: 'warn',
        text: `${runLabel(r)}: ${s.bottleneck.text}`,
        hint: 'Open Transfers to watch it.',
      });
  }

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Dashboard</h1>
      <ErrorMessage error={dashboardError} title="Sluice cannot build the dashboard." />
      {attention.length > 0 && (
        <section aria-label="Needs attention">
          <h2>Needs attention</h2>
          <ul className="attention">
            {attention.map((a) => (
              <li key={a.key} className={a.tone === 'warn' ? 'warn' : undefined}>
                <strong>{a.text}</strong>
                {a.hint && <div className="hint muted">{a.hint}</div>}
              </li>
            ))}
          </ul>
        </section>
      )}
      <div className="cards">
        <Card label="Protected VMs" value={protectedVms.length} testId="protected-count" />
        <Card label="Unprotected VMs" value={unprotected.length} testId="unprotected-count" />
        <Card label={`Excluded (${NO_BACKUP_TAG})`} value={excluded.length} testId="excluded-count" />
        <Card label="Running transfers" value={running.length} testId="running-count" />
        <Card label="Pools" value={pools.hosts.length} testId="pools-count" />
        <Card label="Remotes" value={data.remotes.length} testId="remotes-count" />
      </div>
      {pools.hosts.length === 0 && !pools.loading && (
        <p>
          Start by adding a pool under <a href="#/hosts">Hosts</a> and a folder under <a href="#/remotes">Remotes</a>.
        </p>
      )}
      <div className="grid-2">
        <section className="panel" aria-label="Unprotected VMs">
          <h2>Unprotected VMs</h2>
          {unprotected.length === 0 ? (
            <p className="muted">
              {vms.length ? 'Every VM that is not excluded has at least one backup point.' : 'No VM known yet.'}
            </p>
          ) : (
            <ul>
              {unprotected.map((v) => (
                <li key={v.uuid}>
                  <VmName vm={v} shared={shared} /> <span className="muted">— {v.reason}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="panel" aria-label="Protected VMs">
          <h2>Protected VMs</h2>
          {protectedVms.length === 0 ? (
            <p className="muted">No VM has a backup point yet.</p>
          ) : (
            <ul>
              {protectedVms.map((v) => (
                <li key={v.uuid}>
                  <VmName vm={v} shared={shared} />
                  {v.point && (
                    <span className="muted">
                      {' '}
                      — last good point {formatAge(Date.parse(v.point.at), Date.now())} ({v.point.mode}
                      {v.point.jobName ? `, job ${v.point.jobName}` : ''})
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="panel" aria-label="Next scheduled runs">
          <h2>Next scheduled runs</h2>
          {!dashboard || dashboard.nextRuns.length === 0 ? (
            <p className="muted">
              No scheduled run. Create a job with a schedule under <a href="#/jobs">Jobs</a>.
            </p>
          ) : (
            <ul>
              {dashboard.nextRuns.slice(0, 8).map((n) => (
                <li key={n.jobId + n.scheduleId + n.at}>
                  {formatInZone(n.at, n.timezone)} — {n.jobName}{' '}
                  <span className="muted">({n.scheduleName || 'schedule'})</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="panel" aria-label="Last job runs">
          <h2>Last job runs</h2>
          {!dashboard || dashboard.lastRuns.length === 0 ? (
            <p className="muted">No job has run yet.</p>
          ) : (
            <ul>
              {dashboard.lastRuns.slice(0, 8).map((r) => (
                <li key={r.runId}>
                  <span className={`badge ${statusTone[r.status]}`}>{r.status}</span> {r.jobName}{' '}
                  <span className="muted">
                    {formatAge(Date.parse(r.finishedAt ?? r.startedAt), Date.now())}, {formatBytes(r.bytes)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <section className="panel" aria-label="Last runs">
        <h2>Runs this session</h2>
        {runs.length === 0 ? (
          <p className="muted">No run this session.</p>
        ) : (
          <table aria-label="Runs this session">
            <thead>
              <tr>
                <th>Run</th>
                <th>Outcome</th>
                <th className="n">Written</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {runs.slice(0, 10).map((r) => {
                const s = summarise(r);
                const tone =
                  s.state === 'done' ? 'ok' : s.state === 'failed' ? 'bad' : s.state === 'running' ? 'info' : 'warn';
                return (
                  <tr key={r.runId}>
                    <td>
                      <button type="button" className="link" onClick={() => navigate('transfers')}>
                        {runLabel(r)}
                      </button>
                    </td>
                    <td>
                      <span className={`badge ${tone}`}>{s.state}</span>
                    </td>
                    <td className="n">{formatBytes(s.bytesDone)}</td>
                    <td>{r.result ? formatAge(Date.parse(r.result.finishedAt), Date.now()) : 'running'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
      <section className="panel" aria-label="Space per remote">
        <h2>Space per remote</h2>
        {data.remotes.length === 0 ? (
          <p className="muted">No remote yet.</p>
        ) : (
          <table aria-label="Remote space">
            <thead>
              <tr>
                <th>Remote</th>
                <th className="n">Backups</th>
                <th className="n">Used by Sluice</th>
                <th className="n">Free</th>
                <th className="n">Size</th>
              </tr>
            </thead>
            <tbody>
              {data.remotes.map((r) => {
                const u = data.usage[r.id];
                return (
                  <tr key={r.id}>
                    <td>{r.name}</td>
                    <td className="n">{u ? u.points : '—'}</td>
                    <td className="n">{u ? formatBytes(u.repositoryBytes) : '—'}</td>
                    <td className="n">
                      {u && u.freeBytes !== null
                        ? `${formatBytes(u.freeBytes)} (${formatPercent(u.totalBytes ? u.freeBytes / u.totalBytes : 0)})`
                        : '—'}
                    </td>
                    <td className="n">{u && u.totalBytes !== null ? formatBytes(u.totalBytes) : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}

function Card({ label, value, testId }: { label: string; value: number; testId: string }) {
  return (
    <div className="card">
      <div className="card-label">{label}</div>
      <div className="card-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
