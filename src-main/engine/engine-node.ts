import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appRoot } from '../app-root.js';
import { EventBus } from '../ipc/event-bus.js';
import { FileSecretStore } from '../secrets/file-secret-store.js';
import { ConfSettingsStore } from '../settings/conf-settings-store.js';
import { createEngine, type Engine } from './engine.js';
import type { EngineContext } from './engine-context.js';

export function defaultDataDir(): string {
  if (process.env.SLUICE_DATA_DIR) return process.env.SLUICE_DATA_DIR;
  const base =
    process.platform === 'win32'
      ? (process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'))
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support')
        : (process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'));
  return path.join(base, 'Sluice');
}

export function packageVersion(): string {
  const pkgPath = path.join(appRoot(), 'package.json');
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

export interface NodeEngine extends Engine {
  ctx: EngineContext;
}

/** The engine as it runs under plain Node: conf for settings, the AES-GCM file for secrets. */
export function createNodeEngine(opts: { dataDir?: string; transport: EngineContext['transport'] }): NodeEngine {
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
  return { ctx, ...createEngine(ctx) };
}
