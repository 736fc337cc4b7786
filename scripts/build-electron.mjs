// Bundles the Electron entry points with esbuild: main and the engine's utilityProcess as CommonJS for
// Electron's Node, and the preload as one self-contained file (a sandboxed preload may require only 'electron').
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  external: ['electron'],
  logLevel: 'warning',
  absWorkingDir: root,
};

await Promise.all([
  build({ ...common, entryPoints: ['src-main/electron/main.ts'], outfile: 'dist-electron/main.cjs' }),
  build({ ...common, entryPoints: ['src-main/electron/engine-process.ts'], outfile: 'dist-electron/engine.cjs' }),
  build({
    ...common,
    entryPoints: ['src-main/electron/preload.ts'],
    outfile: 'dist-electron/preload.cjs',
    platform: 'browser',
  }),
]);
console.log('Electron bundles written to dist-electron/');
