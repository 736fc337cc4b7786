import type { IpcResult } from '../../../src-shared/contract/errors';
import { serverMessageSchema, TOKEN_PARAM, WS_PATH, type ClientMessage } from '../../../src-shared/contract/wire';
import type { ConnectionState, Transport } from './transport';

const RECONNECT_MS = [250, 500, 1000, 2000, 4000];

/**
 * Browser mode: one WebSocket to the engine on our own origin, with the token the engine printed. It
 * reconnects by itself and re-subscribes, and calls made while disconnected fail at once with a clear error
 * instead of hanging.
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  state: ConnectionState = 'connecting';
  private ws: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: IpcResult<unknown>) => void>();
  private readonly listeners = new Map<string, Set<(p: unknown) => void>>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private attempt = 0;

  constructor(private readonly url: string) {
    this.connect();
  }

  static fromLocation(loc: Location): WebSocketTransport {
    const params = new URLSearchParams(loc.search);
    const token = params.get(TOKEN_PARAM) ?? sessionStorage.getItem('sluice.token') ?? '';
    // Keep the token out of the address bar (and of screenshots), but survive a reload.
    sessionStorage.setItem('sluice.token', token);
    if (params.has(TOKEN_PARAM)) {
      params.delete(TOKEN_PARAM);
      const rest = params.toString();
      history.replaceState(null, '', `${loc.pathname}${rest ? `?${rest}` : ''}${loc.hash}`);
    }
    const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
    return new WebSocketTransport(`${proto}//${loc.host}${WS_PATH}?${TOKEN_PARAM}=${encodeURIComponent(token)}`);
  }

  private setState(s: ConnectionState) {
    this.state = s;
    for (const l of this.stateListeners) l(s);
  }

  private connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState('connected');
      for (const event of this.listeners.keys()) this.send({ type: 'subscribe', event });
    };
    ws.onmessage = (e) => {
      const parsed = serverMessageSchema.safeParse(JSON.parse(String(e.data)));
      if (!parsed.success) return;
      const msg = parsed.data;
      if (msg.type === 'event') {
        for (const l of this.listeners.get(msg.event) ?? []) l(msg.payload);
      } else if (msg.id !== null) {
        this.pending.get(msg.id)?.(msg.result as IpcResult<unknown>);
        this.pending.delete(msg.id);
      }
    };
    ws.onclose = () => {
      for (const resolve of this.pending.values()) resolve(disconnected());
      this.pending.clear();
      this.setState('disconnected');
      const delay = RECONNECT_MS[Math.min(this.attempt++, RECONNECT_MS.length - 1)];
      setTimeout(() => this.connect(), delay);
    };
  }

  private send(msg: ClientMessage) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  invoke(channel: string, payload: unknown): Promise<IpcResult<unknown>> {
    if (this.ws?.readyState !== WebSocket.OPEN) return Promise.resolve(disconnected());
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ type: 'invoke', id, channel, payload });
    });
  }

  subscribe(event: string, listener: (payload: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      this.listeners.set(event, (set = new Set()));
      this.send({ type: 'subscribe', event });
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(event);
        this.send({ type: 'unsubscribe', event });
      }
    };
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }
}

function disconnected(): IpcResult<unknown> {
  return {
    ok: false,
    error: {
      code: 'HOST_UNREACHABLE',
      message: 'The Sluice engine is not connected.',
      hint: 'Check that `npm run serve` is still running; the page reconnects by itself.',
    },
  };
}
