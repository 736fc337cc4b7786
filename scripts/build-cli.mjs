// Bundles the CLI (src-main/cli/main.ts) into dist-cli/sluice.mjs with esbuild. Packages stay external
// (resolved from node_modules at run time); the simulator behind `--demo` is loaded from its sources.
import { build } from 'esbuild';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function buildCli() {
  const out = path.join(root, 'dist-cli', 'sluice.mjs');
  // Built in a folder of its own, then moved: the map keeps its name, and two CLIs starting at once never
  // run a half-written bundle.
  const tmpDir = path.join(root, 'dist-cli', `.build-${process.pid}`);
  const tmp = path.join(tmpDir, 'sluice.mjs');
  await build({
    absWorkingDir: root,
    entryPoints: ['src-main/cli/main.ts'],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  await rename(`${tmp}.map`, `${out}.map`);
  await rename(tmp, out);
  await rm(tmpDir, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await buildCli();
