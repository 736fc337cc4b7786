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
    // Stops what suites share across files (the S3 gateway) once the run is over.
    globalSetup: ['test/helpers/global-teardown.ts'],
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
  },
});
