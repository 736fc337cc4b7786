import { createContext, useContext, useEffect, useState } from 'react';
import type { EventName, EventPayload } from '../../../src-shared/contract/index';
import type { SluiceClient } from './sluice-client';
import type { ConnectionState } from './transport';

export const ClientContext = createContext<SluiceClient | null>(null);

export function useClient(): SluiceClient {
  const c = useContext(ClientContext);
  if (!c) throw new Error('useClient outside ClientContext');
  return c;
}

export function useConnectionState(): ConnectionState {
  const client = useClient();
  const [state, setState] = useState<ConnectionState>('connecting');
  useEffect(() => client.onConnectionChange(setState), [client]);
  return state;
}

export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const client = useClient();
  useEffect(() => client.on(event, listener), [client, event, listener]);
}
