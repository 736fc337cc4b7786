import { useCallback, useEffect, useState } from 'react';
import type { HostConnectionState, HostSummary } from '../../../../src-shared/contract/hosts';
import type { Inventory } from '../../../../src-shared/contract/inventory';
import { useClient, useEvent } from '../../client/client-context';

export interface Pools {
  hosts: HostSummary[];
  inventories: Record<string, Inventory | null>;
  states: Record<string, HostConnectionState>;
  /** Why a pool's inventory could not be read (IpcCallError), by host id. */
  errors: Record<string, unknown>;
  loading: boolean;
  refresh: () => void;
}

/** The configured pools with their live inventories and connection states, kept current by engine events. */
export function usePools(): Pools {
  const client = useClient();
  const [hosts, setHosts] = useState<HostSummary[]>([]);
  const [inventories, setInventories] = useState<Record<string, Inventory | null>>({});
  const [states, setStates] = useState<Record<string, HostConnectionState>>({});
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const [loading, setLoading] = useState(true);

  const loadInventory = useCallback(
    (hostId: string) =>
      client.invoke('inventory.get', { hostId }).then(
        (inv) => {
          setInventories((m) => ({ ...m, [hostId]: inv }));
          setErrors((m) => ({ ...m, [hostId]: undefined }));
        },
        (err: unknown) => setErrors((m) => ({ ...m, [hostId]: err })),
      ),
    [client],
  );

  const refresh = useCallback(() => {
    void (async () => {
      try {
        const list = await client.invoke('hosts.list', {});
        setHosts(list);
        const st = await client.invoke('hosts.connectionStates', {});
        setStates(Object.fromEntries(st.map((s) => [s.hostId, s])));
        await Promise.all(list.map((h) => loadInventory(h.id)));
      } catch {
        // the status bar says when the engine is gone; the next event or visit refreshes
      } finally {
        setLoading(false);
      }
    })();
  }, [client, loadInventory]);
  useEffect(refresh, [refresh]);

  useEvent(
    'settings.changed',
    useCallback((e) => e.section === 'hosts' && refresh(), [refresh]),
  );
  useEvent(
    'inventory.changed',
    useCallback((e) => setInventories((m) => ({ ...m, [e.hostId]: e.inventory })), []),
  );
  useEvent(
    'hosts.connection',
    useCallback((s) => {
      setStates((m) => ({ ...m, [s.hostId]: s }));
      if (s.state === 'error') setErrors((m) => ({ ...m, [s.hostId]: s.error }));
    }, []),
  );
  return { hosts, inventories, states, errors, loading, refresh };
}
