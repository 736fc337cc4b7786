import { useEffect, useState } from 'react';
import { useClient } from '../client/client-context';

export function DashboardPage() {
  const client = useClient();
  const [counts, setCounts] = useState<{ hosts: number; remotes: number } | null>(null);
  useEffect(() => {
    void Promise.all([client.invoke('hosts.list', {}), client.invoke('remotes.list', {})]).then(([h, r]) =>
      setCounts({ hosts: h.length, remotes: r.length }),
    );
  }, [client]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Dashboard</h1>
      <div className="cards">
        <div className="card">
          <div className="card-label">Pools</div>
          <div className="card-value">{counts ? counts.hosts : '…'}</div>
        </div>
        <div className="card">
          <div className="card-label">Remotes</div>
          <div className="card-value">{counts ? counts.remotes : '…'}</div>
        </div>
      </div>
      {counts && counts.hosts === 0 && <p>Start by adding a pool under Hosts and a folder under Remotes.</p>}
    </section>
  );
}
