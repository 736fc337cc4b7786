import { packageVersion } from '../core/app-root.js';
import { defaultDataDir } from '../settings/data-dir.js';
import { EventBus } from '../ipc/event-bus.js';
import { FileSecretStore } from '../secrets/file-secret-store.js';
import { ConfSettingsStore } from '../settings/conf-settings-store.js';
import { createEngine, type Engine } from './engine.js';
import type { EngineContext } from './engine-context.js';
import type { JobsServiceOptions } from '../jobs/jobs-service.js';

export { defaultDataDir };

export { packageVersion };

export interface NodeEngine extends Engine {
  ctx: EngineContext;
}

/** The engine as it runs under plain Node: conf for settings, the AES-GCM file for secrets. */
export function createNodeEngine(opts: {
  dataDir?: string;
  transport: EngineContext['transport'];
  jobs?: JobsServiceOptions;
}): NodeEngine {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const ctx: EngineContext = {
    settings: new ConfSettingsStore(dataDir),
    secrets: new FileSecretStore(dataDir),
    bus: new EventBus(),
    transport: opts.transport,
    dataDir,
    version: packageVersion(),
    startedAt: new Date(),
  };
  return { ctx, ...createEngine(ctx, { jobs: opts.jobs }) };
}
