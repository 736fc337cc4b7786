import { EventBus } from '../ipc/event-bus.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { Settings } from '../settings/settings-schema.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { createEngine, type Engine } from './engine.js';
import type { EngineContext } from './engine-context.js';
import { toEngineSchema, type FromEngine, type HostServiceCall, type PortLike } from './engine-port-protocol.js';

/**
 * Runs the engine behind a message port (Electron utilityProcess). Settings and secrets live with the host
 * process, so here they are proxies: reads of settings come from a local copy, writes go to the host and
 * complete when the host has persisted them.
 */
export function serveEngineOnPort(port: PortLike, opts: { onShutdown?: () => void } = {}): void {
  const send = (m: FromEngine) => port.postMessage(m);
  const pendingHost = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextHostId = 1;
  const callHost = (call: HostServiceCall): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextHostId++;
      pendingHost.set(id, { resolve, reject });
      send({ kind: 'host-call', id, call });
    });

  let engine: Engine | undefined;
  const queued: Array<{ id: number; channel: unknown; payload: unknown }> = [];
  const invoke = (id: number, channel: unknown, payload: unknown) => {
    void engine!.dispatcher
      .dispatch(channel, payload)
      .then((result) => send({ kind: 'result', id, result: result as never }));
  };

  port.on('message', (raw) => {
    // Electron's parentPort wraps messages in an event with .data; Node's MessagePort does not.
    const data =
      raw && typeof raw === 'object' && 'data' in raw && !('kind' in raw) ? (raw as { data: unknown }).data : raw;
    const parsed = toEngineSchema.safeParse(data);
    if (!parsed.success) return;
    const msg = parsed.data;
    switch (msg.kind) {
      case 'init': {
        const bus = new EventBus();
        bus.onAny((event, payload) => send({ kind: 'event', event, payload }));
        const ctx: EngineContext = {
          settings: new ProxySettingsStore(msg.settings, (s) =>
            callHost({ method: 'settings.write', settings: s }).then(() => undefined),
          ),
          secrets: new ProxySecretStore(callHost),
          bus,
          transport: 'electron',
          dataDir: msg.dataDir,
          version: msg.version,
          startedAt: new Date(),
        };
        engine = createEngine(ctx);
        // The desktop app runs schedules while it is open (unless serve or the daemon already does).
        void engine.jobs.startScheduler().catch((err) =>
          bus.emit('engine.log', {
            level: 'error',
            message: `The scheduler did not start: ${(err as Error).message}`,
            at: new Date().toISOString(),
          }),
        );
        send({ kind: 'ready' });
        for (const q of queued.splice(0)) invoke(q.id, q.channel, q.payload);
        bus.emit('engine.status', { state: 'ready', at: new Date().toISOString() });
        return;
      }
      case 'invoke':
        if (!engine) queued.push(msg);
        else invoke(msg.id, msg.channel, msg.payload);
        return;
      case 'host-result': {
        const p = pendingHost.get(msg.id);
        pendingHost.delete(msg.id);
        if (msg.ok) p?.resolve(msg.value);
        else p?.reject(new Error(msg.error ?? 'host call failed'));
        return;
      }
      case 'shutdown':
        void (engine?.close() ?? Promise.resolve()).finally(() => opts.onShutdown?.());
    }
  });
}

class ProxySettingsStore implements SettingsStore {
  private readonly listeners = new Set<(s: Settings) => void>();
  private writes: Promise<unknown> = Promise.resolve();
  constructor(
    private current: Settings,
    private readonly persist: (s: Settings) => Promise<void>,
  ) {}
  get(): Settings {
    return structuredClone(this.current);
  }
  update(mutate: (draft: Settings) => void): Promise<Settings> {
    // Serialised so two quick updates never persist out of order.
    const run = this.writes.then(async () => {
      const draft = structuredClone(this.current);
      mutate(draft);
      await this.persist(draft);
      this.current = draft;
      for (const l of this.listeners) l(structuredClone(draft));
      return structuredClone(draft);
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
  onChange(listener: (s: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

class ProxySecretStore implements SecretStore {
  constructor(private readonly callHost: (c: HostServiceCall) => Promise<unknown>) {}
  async get(id: string) {
    const v = await this.callHost({ method: 'secrets.get', id });
    return typeof v === 'string' ? v : undefined;
  }
  async set(id: string, value: string) {
    await this.callHost({ method: 'secrets.set', id, value });
  }
  async delete(id: string) {
    await this.callHost({ method: 'secrets.delete', id });
  }
}
