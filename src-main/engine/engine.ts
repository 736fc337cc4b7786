import { IpcDispatcher, type Handlers } from '../ipc/ipc-dispatcher.js';
import { BackupRuns } from './backup-runs.js';
import type { EngineContext } from './engine-context.js';
import { appHandlers } from './handlers/app-handlers.js';
import { backupHandlers } from './handlers/backup-handlers.js';
import { backupsHandlers } from './handlers/backups-handlers.js';
import { hostsHandlers } from './handlers/hosts-handlers.js';
import { remotesHandlers } from './handlers/remotes-handlers.js';
import { settingsHandlers } from './handlers/settings-handlers.js';
import { PoolConnections } from './pool-connections.js';

export interface Engine {
  dispatcher: IpcDispatcher;
  pools: PoolConnections;
  runs: BackupRuns;
  close(): Promise<void>;
}

/** Wires the engine's services and every handler group. A missing channel is a type error here, not a runtime surprise. */
export function createEngine(ctx: EngineContext): Engine {
  const pools = new PoolConnections(ctx);
  const runs = new BackupRuns(ctx, pools);
  const handlers: Handlers = {
    ...appHandlers(ctx),
    ...settingsHandlers(ctx),
    ...hostsHandlers(ctx, pools),
    ...remotesHandlers(ctx),
    ...backupHandlers(runs),
    ...backupsHandlers(ctx),
  };
  return {
    dispatcher: new IpcDispatcher(handlers),
    pools,
    runs,
    close: async () => {
      runs.cancelAll();
      await pools.close();
    },
  };
}
