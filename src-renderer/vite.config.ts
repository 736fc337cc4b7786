import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// The UI is plain static files: Electron loads them from disk, browser mode serves them from the engine.
export default defineConfig({
  root: here,
  base: './',
  build: {
    outDir: path.join(here, '..', 'dist-renderer'),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      // zod ships comments Rollup cannot place; harmless, and noise in every build.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION') return;
        warn(warning);
      },
    },
  },
  esbuild: { jsx: 'automatic' },
  logLevel: 'warn',
});
