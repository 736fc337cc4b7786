import { afterAll, beforeAll } from 'vitest';
import { createNodeEngine, type NodeEngine } from '../../src-main/engine/engine-node.js';
import type { SimHandle } from '../../src-sim/index.js';
import { withSimulator } from './simulator-suite.js';

/** One IPC call through the engine's dispatcher, as a client would make it; a refusal throws "CODE: message". */
export async function callEngine<T>(engine: NodeEngine, channel: string, payload: unknown): Promise<T> {
  const r = await engine.dispatcher.dispatch(channel, payload);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/** What a test file gets from `withEngine`; read its fields inside tests, once the engine runs. */
export interface EngineSuite {
  readonly sim: SimHandle;
  readonly engine: NodeEngine;
  /** A fresh temp folder, removed after the file's tests. */
  temp(): string;
  /** `callEngine` on this suite's engine. */
  call<T>(channel: string, payload: unknown): Promise<T>;
  /** Adds the simulator as a host (`hosts.add`, its certificate trusted), as the UI's "Add pool" does. */
  addHost(): Promise<{ id: string }>;
}

/** The engine as the UI drives it (websocket transport, its own data folder) and a `smallPool()` simulator. */
export function withEngine(): EngineSuite {
  const env = withSimulator(undefined, { session: false });
  let engine: NodeEngine | undefined;
  beforeAll(() => {
    engine = createNodeEngine({ dataDir: env.temp(), transport: 'websocket' });
  });
  afterAll(async () => {
    await engine?.close();
  });
  const running = (): NodeEngine => {
    if (!engine) throw new Error('withEngine: no engine yet (read it inside a test)');
    return engine;
  };
  const call = <T>(channel: string, payload: unknown) => callEngine<T>(running(), channel, payload);
  return {
    get sim() {
      return env.sim;
    },
    get engine() {
      return running();
    },
    temp: env.temp,
    call,
    addHost: () =>
      call<{ id: string }>('hosts.add', {
        url: env.sim.url,
        username: env.sim.username,
        password: env.sim.password,
        trustedFingerprint: env.sim.fingerprint,
      }),
  };
}
