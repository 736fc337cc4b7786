import type { SimHandle } from '../../../test/xapi-sim/index.js';

/**
 * The simulated "Small shop" pool for demos and browser tests. It lives under test/ (it is our stand-in for a
 * real host) and is loaded only when asked for, so the packaged app never carries it.
 */
export async function startDemoPool(opts: { port?: number } = {}): Promise<SimHandle> {
  const { startSimulator } = await import('../../../test/xapi-sim/index.js');
  return startSimulator({ vms: 'small-shop', ...(opts.port ? { port: opts.port } : {}), loginFailureDelayMs: 1000 });
}
