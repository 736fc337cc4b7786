// npm's allowScripts keeps Electron's postinstall from running during `npm ci` (so installs work offline and
// in CI); the desktop app fetches its Electron binary here, on the first `npm start`.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const electronDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'electron');
if (!existsSync(path.join(electronDir, 'path.txt'))) {
  console.log('Fetching the Electron binary (first run)…');
  const r = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { stdio: 'inherit', cwd: electronDir });
  if (r.status !== 0) {
    console.error('Could not fetch Electron. Without internet access, use the browser mode instead: npm run serve');
    process.exit(1);
  }
}
