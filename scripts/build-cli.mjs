// Bundles the CLI (src-main/cli/main.ts) into dist-cli/sluice.mjs with esbuild. Packages stay external
// (resolved from node_modules at run time); the simulator behind `--demo` is loaded from its sources.
import { build } from 'esbuild';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function buildCli() {
  const out = path.join(root, 'dist-cli', 'sluice.mjs');
  const tmp = `${out}.${process.pid}.tmp.mjs`;
  await build({
    absWorkingDir: root,
    entryPoints: ['src-main/cli/main.ts'],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
    // import.meta.url of the bundle points into dist-cli/, one level below the root like src-main/engine/.
    define: {},
  });
  // Atomic, so two CLIs starting at once never run a half-written bundle.
  await rename(tmp, out);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await buildCli();
