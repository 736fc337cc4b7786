// Bundles the CLI (src-main/cli/main.ts) into dist-cli/ with esbuild. Packages stay external (resolved from
// node_modules at run time); code splitting keeps each command's code and packages in chunks of their own,
// loaded only when that command runs (a backup process must stay small).
import { build } from 'esbuild';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function buildCli() {
  const out = path.join(root, 'dist-cli');
  // Built in a folder of its own, then swapped in: two CLIs starting at once never run a half-written bundle.
  const tmp = path.join(root, `.dist-cli-build-${process.pid}`);
  await build({
    absWorkingDir: root,
    entryPoints: { sluice: 'src-main/cli/main.ts' },
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  const old = `${out}.old-${process.pid}`;
  await rename(out, old).catch(() => {});
  await rename(tmp, out);
  await rm(old, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await buildCli();
