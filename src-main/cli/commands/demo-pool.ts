import type { SimHandle } from '../../../src-sim/index.js';

/**
 * The simulated "Small shop" pool for demos and browser tests. This file is src-main's only door into src-sim
 * (the `demo` command and `serve --demo` come through it): the engine must never depend on the stand-in for a
 * real host. It is loaded only when asked for, so the CLI bundle keeps the simulator in a chunk of its own and
 * the Electron app never carries it.
 */
export async function startDemoPool(opts: { port?: number } = {}): Promise<SimHandle> {
  const { startSimulator } = await import('../../../src-sim/index.js');
  return startSimulator({ vms: 'small-shop', ...(opts.port ? { port: opts.port } : {}), loginFailureDelayMs: 1000 });
}
