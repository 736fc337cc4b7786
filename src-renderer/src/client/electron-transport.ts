import type { IpcResult } from '../../../src-shared/contract/errors';
import type { ConnectionState, Transport } from './transport';

/** The surface the preload exposes on window.sluice: the contract, nothing more. */
export interface SluiceBridge {
  invoke(channel: string, payload: unknown): Promise<IpcResult<unknown>>;
  on(event: string, listener: (payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    sluice?: SluiceBridge;
  }
}

export class ElectronTransport implements Transport {
  readonly kind = 'electron' as const;
  readonly state: ConnectionState = 'connected';
  constructor(private readonly bridge: SluiceBridge) {}
  invoke(channel: string, payload: unknown) {
    return this.bridge.invoke(channel, payload);
  }
  subscribe(event: string, listener: (payload: unknown) => void) {
    return this.bridge.on(event, listener);
  }
  onConnectionChange(listener: (state: ConnectionState) => void) {
    listener('connected');
    return () => {};
  }
}
