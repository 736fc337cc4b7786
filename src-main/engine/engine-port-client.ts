import type { IpcResult } from '../../src-shared/contract/errors.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { settingsSchema } from '../settings/settings-schema.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { fromEngineSchema, type PortLike, type ToEngine } from './engine-port-protocol.js';

/**
 * The host side of an engine behind a port: forwards UI calls, relays events, and serves the engine's
 * requests for settings and secrets from the host's own stores (validated: the engine is trusted less than
 * the host that keeps the keys).
 */
export class EnginePortClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: IpcResult<unknown>) => void>();
  private readonly eventListeners = new Set<(event: string, payload: unknown) => void>();

  constructor(
    private readonly port: PortLike,
    private readonly stores: { settings: SettingsStore; secrets: SecretStore },
    init: { dataDir: string; version: string },
  ) {
    port.on('message', (raw) => void this.onMessage(raw));
    this.send({ kind: 'init', settings: stores.settings.get(), dataDir: init.dataDir, version: init.version });
  }

  private send(m: ToEngine) {
    this.port.postMessage(m);
  }

  private async onMessage(raw: unknown) {
    const data =
      raw && typeof raw === 'object' && 'data' in raw && !('kind' in raw) ? (raw as { data: unknown }).data : raw;
    const parsed = fromEngineSchema.safeParse(data);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.kind === 'result') {
      this.pending.get(msg.id)?.(msg.result as IpcResult<unknown>);
      this.pending.delete(msg.id);
    } else if (msg.kind === 'event') {
      for (const l of this.eventListeners) l(msg.event, msg.payload);
    } else if (msg.kind === 'host-call') {
      try {
        const c = msg.call;
        let value: unknown;
        if (c.method === 'settings.write') {
          const next = settingsSchema.parse(c.settings);
          await this.stores.settings.update((draft) => Object.assign(draft, next));
        } else if (c.method === 'secrets.get') value = await this.stores.secrets.get(c.id);
        else if (c.method === 'secrets.set') await this.stores.secrets.set(c.id, c.value);
        else await this.stores.secrets.delete(c.id);
        this.send({ kind: 'host-result', id: msg.id, ok: true, value });
      } catch (err) {
        this.send({
          kind: 'host-result',
          id: msg.id,
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  invoke(channel: unknown, payload: unknown): Promise<IpcResult<unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ kind: 'invoke', id, channel, payload });
    });
  }

  onEvent(listener: (event: string, payload: unknown) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  shutdown() {
    this.send({ kind: 'shutdown' });
  }
}
