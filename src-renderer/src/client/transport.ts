import type { IpcResult } from '../../../src-shared/contract/errors';

/**
 * What carries the contract: Electron's preload bridge or the browser-mode WebSocket. The typed client sits on
 * top and never knows which one it has.
 */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface Transport {
  invoke(channel: string, payload: unknown): Promise<IpcResult<unknown>>;
  subscribe(event: string, listener: (payload: unknown) => void): () => void;
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  readonly state: ConnectionState;
  readonly kind: 'electron' | 'websocket';
}
