import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { EngineContext } from '../engine-context.js';

export function appHandlers(ctx: EngineContext): Pick<Handlers, 'app.info' | 'app.ping'> {
  return {
    'app.info': async () => ({
      name: 'Sluice',
      version: ctx.version,
      transport: ctx.transport,
      platform: process.platform,
      startedAt: ctx.startedAt.toISOString(),
      dataDir: ctx.dataDir,
    }),
    'app.ping': async ({ nonce }) => ({ nonce, at: new Date().toISOString() }),
  };
}
