import { defineConfig } from 'vitest/config';

// Tests run under plain Node: the engine never needs Electron, and browser tests drive Debian's Chromium
// themselves through playwright-core.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
  },
});
