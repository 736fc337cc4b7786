import { IpcDispatcher, type Handlers } from '../ipc/ipc-dispatcher.js';
import { setRemoteKeyLookup } from '../remotes/encryption-keys.js';
import { savedRemoteKeys as savedEncryptionKeys } from './saved-remote-keys.js';
import { BackupRuns } from './backup-runs.js';
import type { EngineContext } from './engine-context.js';
import { appHandlers } from './handlers/app-handlers.js';
import { backupHandlers } from './handlers/backup-handlers.js';
import { backupsHandlers } from './handlers/backups-handlers.js';
import { hostsHandlers } from './handlers/hosts-handlers.js';
import { jobsHandlers } from './handlers/jobs-handlers.js';
import { pointOperationsHandlers } from './handlers/point-operations-handlers.js';
import { PointOperations } from './point-operations.js';
import { remotesHandlers } from './handlers/remotes-handlers.js';
import { settingsHandlers } from './handlers/settings-handlers.js';
import { PoolConnections } from './pool-connections.js';
import { JobsService, type JobsServiceOptions } from '../jobs/jobs-service.js';
import { OperationRegistry } from '../runs/operation-registry.js';
import { setS3CredentialSource } from '../remotes/s3-remote.js';
import { savedRemoteKeys } from './saved-remotes.js';

export interface Engine {
  dispatcher: IpcDispatcher;
  pools: PoolConnections;
  runs: BackupRuns;
  jobs: JobsService;
  close(): Promise<void>;
}

/** Wires the engine's services and every handler group. A missing channel is a type error here, not a runtime surprise. */
export function createEngine(ctx: EngineContext, opts: { jobs?: JobsServiceOptions } = {}): Engine {
  // Saved S3 remotes open by their location anywhere in the engine, with their keys from this engine's stores.
  const keys = savedRemoteKeys(ctx);
  const before = setS3CredentialSource(keys);
  const pools = new PoolConnections(ctx);
  // Every remote opened by location takes a saved encrypted remote's key from the secret store.
  setRemoteKeyLookup(savedEncryptionKeys(ctx));
  // One registry of runs in flight: every cancel channel (backup.cancel, runs.cancel, operations.cancel) ends there.
  const registry = new OperationRegistry();
  const jobs = new JobsService(ctx, pools, registry, opts.jobs);
  const runs = new BackupRuns(ctx, pools, { history: jobs.history, ready: () => jobs.init() }, registry);
  const operations = new PointOperations(ctx, pools, registry);
  const handlers: Handlers = {
    ...appHandlers(ctx),
    ...settingsHandlers(ctx),
    ...hostsHandlers(ctx, pools),
    ...remotesHandlers(ctx),
    ...backupHandlers(runs),
    ...backupsHandlers(ctx),
    ...jobsHandlers(jobs),
    ...pointOperationsHandlers(operations),
  };
  return {
    dispatcher: new IpcDispatcher(handlers),
    pools,
    runs,
    jobs,
    close: async () => {
      runs.cancelAll();
      operations.cancelAll();
      await jobs.close();
      await pools.close();
      setRemoteKeyLookup(undefined);
      // Back to what was there before, unless another engine has set its own since.
      const current = setS3CredentialSource(before);
      if (current !== keys) setS3CredentialSource(current);
    },
  };
}
