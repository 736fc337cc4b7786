import { useEffect, useState } from 'react';
import type { ResponseOf } from '../../../src-shared/contract/index';
import { useClient, useConnectionState } from '../client/client-context';

const labels = {
  connecting: 'Connecting to the engine…',
  connected: 'Engine connected',
  disconnected: 'Engine disconnected — reconnecting',
};

export function StatusBar() {
  const client = useClient();
  const state = useConnectionState();
  const [info, setInfo] = useState<ResponseOf<'app.info'> | null>(null);
  useEffect(() => {
    if (state !== 'connected') return;
    client.invoke('app.info', {}).then(setInfo, () => setInfo(null));
  }, [client, state]);
  return (
    <footer className="status-bar" role="status" aria-label="Engine connection">
      <span className={`dot dot-${state}`} aria-hidden="true" />
      <span data-testid="engine-state">{labels[state]}</span>
      {info && (
        <span className="status-meta">
          Sluice {info.version} · {info.transport === 'electron' ? 'desktop' : 'browser mode'}
        </span>
      )}
    </footer>
  );
}
