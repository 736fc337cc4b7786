import { useCallback, useEffect, useState } from 'react';
import type { Dashboard } from '../../../../src-shared/contract/dashboard';
import { useClient, useEvent } from '../../client/client-context';

/** dashboard.get, re-read whenever a run or an operation ends or the settings change. */
export function useDashboard(): { dashboard: Dashboard | null; error: unknown } {
  const client = useClient();
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(
    () =>
      void client.invoke('dashboard.get', {}).then((d) => {
        setDashboard(d);
        setError(null);
      }, setError),
    [client],
  );
  useEffect(load, [load]);
  useEvent('runs.finished', load);
  useEvent('runs.started', load);
  useEvent('backup.finished', load);
  useEvent('operations.finished', load);
  useEvent('settings.changed', load);
  return { dashboard, error };
}
