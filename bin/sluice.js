#!/usr/bin/env -S node --max-semi-space-size=1
// The flag (a 1 MiB young generation instead of V8's default 16 MiB, which a long transfer grows into and
// never gives back) keeps a backup's resident memory ~30 MiB lower: the process's JS objects are few and
// short-lived, its bulk data lives in buffers outside the JS heap. `npx sluice` runs this file through its
// shebang, so the flag applies; `npm run serve` / `demo` pass it themselves.
// `npx sluice`: runs the CLI from an esbuild bundle of the TypeScript sources, rebuilt whenever a source is
// (or of the simulator behind `demo`) newer than it (a fraction of a second), so it is never stale and does not carry a TypeScript loader's
// memory and start-up time through a long backup.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Headroom in libuv's thread pool (set before any asynchronous I/O starts it): a stalled destination blocks
// the threads its writes run on, and the spool, DNS and the rest must still find one free.
process.env.UV_THREADPOOL_SIZE ??= '16';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(root, 'dist-cli', 'sluice.mjs');

function newestSource(dir, newest = 0) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = newestSource(p, newest);
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const sources = ['src-main', 'src-shared', 'src-sim'].map((d) => path.join(root, d)).filter(existsSync);
const stale =
  !existsSync(bundle) ||
  sources.reduce((n, d) => newestSource(d, n), statSync(path.join(root, 'package.json')).mtimeMs) >
    statSync(bundle).mtimeMs;
if (stale) {
  const { buildCli } = await import('../scripts/build-cli.mjs');
  await buildCli();
}
await import(pathToFileURL(bundle).href);
