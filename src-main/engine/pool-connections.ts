import type { HostConnectionState } from '../../src-shared/contract/hosts.js';
import type { Inventory } from '../../src-shared/contract/inventory.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { HostSetting } from '../settings/settings-schema.js';
import { LiveInventory } from '../xapi/live-inventory.js';
import { XapiSession } from '../xapi/xapi-session.js';
import type { EngineContext } from './engine-context.js';

interface Connection {
  session: Promise<XapiSession>;
  inventory: LiveInventory | undefined;
  latest: Inventory | null;
  state: HostConnectionState;
}

/**
 * One logged-in session and live inventory per configured pool, made on first use and kept. Connection
 * state changes and inventory changes go out as events.
 */
export class PoolConnections {
  private readonly connections = new Map<string, Connection>();

  constructor(private readonly ctx: EngineContext) {
    ctx.settings.onChange((s) => {
      for (const id of this.connections.keys()) if (!s.hosts.some((h) => h.id === id)) void this.disconnect(id);
    });
  }

  private host(hostId: string): HostSetting {
    const h = this.ctx.settings.get().hosts.find((x) => x.id === hostId);
    if (!h)
      throw new SluiceError('NOT_FOUND', 'That pool is no longer configured in Sluice.', {
        hint: 'Add it again under Hosts.',
        context: { hostId },
      });
    return h;
  }

  private setState(hostId: string, c: Connection, state: HostConnectionState['state'], err?: unknown) {
    const e =
      err instanceof SluiceError
        ? err
        : err
          ? new SluiceError('INTERNAL', (err as Error).message ?? String(err))
          : undefined;
    c.state = {
      hostId,
      state,
      ...(e ? { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } } : {}),
      at: new Date().toISOString(),
    };
    this.ctx.bus.emit('hosts.connection', c.state);
  }

  /** The pool's session, connecting (and starting its live inventory) on first use. */
  session(hostId: string): Promise<XapiSession> {
    const existing = this.connections.get(hostId);
    if (existing && existing.state.state !== 'error') return existing.session;
    const host = this.host(hostId);
    const c: Connection = {
      session: Promise.resolve(undefined as never),
      inventory: undefined,
      latest: null,
      state: { hostId, state: 'connecting', at: new Date().toISOString() },
    };
    this.connections.set(hostId, c);
    this.setState(hostId, c, 'connecting');
    c.session = (async () => {
      const password = await this.ctx.secrets.get(host.secretId);
      if (password === undefined)
        throw new SluiceError('UNAUTHORIZED', `No password is stored for ${host.label}.`, {
          hint: 'Remove the pool and add it again.',
        });
      const session = await XapiSession.connect({
        url: host.url,
        username: host.username,
        password,
        trustedFingerprint: host.trustedFingerprint,
      });
      const inv = new LiveInventory(
        session,
        (snapshot) => {
          c.latest = snapshot;
          this.ctx.bus.emit('inventory.changed', { hostId, inventory: snapshot });
        },
        (err) =>
          this.ctx.bus.emit('engine.log', {
            level: 'warn',
            message: `Live updates from ${host.label} paused: ${(err as Error).message}`,
            at: new Date().toISOString(),
            context: { host: host.label },
          }),
      );
      c.inventory = inv;
      c.latest = await inv.start();
      this.ctx.bus.emit('inventory.changed', { hostId, inventory: c.latest });
      this.setState(hostId, c, 'connected');
      return session;
    })();
    c.session.catch((err) => this.setState(hostId, c, 'error', err));
    return c.session;
  }

  async inventory(hostId: string): Promise<Inventory | null> {
    await this.session(hostId);
    return this.connections.get(hostId)?.latest ?? null;
  }

  states(): HostConnectionState[] {
    return [...this.connections.values()].map((c) => c.state);
  }

  async disconnect(hostId: string): Promise<void> {
    const c = this.connections.get(hostId);
    this.connections.delete(hostId);
    if (!c) return;
    await c.inventory?.stop();
    const s = await c.session.catch(() => undefined);
    await s?.close();
  }

  async close(): Promise<void> {
    for (const id of [...this.connections.keys()]) await this.disconnect(id);
  }
}
