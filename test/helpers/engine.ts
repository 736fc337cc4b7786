import type { NodeEngine } from '../../src-main/engine/engine-node.js';

/** One IPC call through the engine's dispatcher, as a client would make it; a refusal throws "CODE: message". */
export async function callEngine<T>(engine: NodeEngine, channel: string, payload: unknown): Promise<T> {
  const r = await engine.dispatcher.dispatch(channel, payload);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
}
