import { useState } from 'react';
import { newestPointByVm, useRemotePoints } from '../../shared/data/use-points';
import { usePools } from '../../shared/data/use-pools';
import { useRunStore, useStoreVersion } from '../../shared/runs/runs-context';
import { AddPoolPanel } from './AddPoolPanel';
import { BackupNowDialog, type BackupTarget } from './BackupNowDialog';
import { PoolPanel } from './PoolPanel';

export function HostsPage() {
  const pools = usePools();
  const points = useRemotePoints();
  const store = useRunStore();
  useStoreVersion(store, 1000);
  const [target, setTarget] = useState<BackupTarget | null>(null);

  const newest = newestPointByVm(points.points);

  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Hosts</h1>
      <AddPoolPanel />

      {pools.hosts.length === 0 && !pools.loading && (
        <p className="muted">No pool yet. Add one above: its address, a user (often root) and the password.</p>
      )}
      {pools.hosts.map((h) => (
        <PoolPanel
          key={h.id}
          host={h}
          inventory={pools.inventories[h.id] ?? null}
          state={pools.states[h.id]}
          error={pools.errors[h.id]}
          newest={newest}
          store={store}
          onBackup={(vm) => setTarget({ hostId: h.id, vm })}
        />
      ))}
      <BackupNowDialog target={target} onClose={() => setTarget(null)} />
    </section>
  );
}
