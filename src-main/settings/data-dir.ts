import os from 'node:os';
import path from 'node:path';

/** Where settings and secrets live under Node: $SLUICE_DATA_DIR, else the platform's per-user config folder. */
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
