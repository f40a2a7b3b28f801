import { defineConfig } from 'vitest/config';

// `npm run test:clients` (scripts/test-clients.mjs): the real clients, installed outside the
// repository, against the sandbox. Long runs take minutes of real time, so files run in parallel
// and tests inside a file run concurrently where they say so.
export default defineConfig({
  test: {
    include: ['test/clients/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // Every long run at once (12): most of their time is waiting for the next turn.
    maxConcurrency: 12,
    testTimeout: 420_000,
    hookTimeout: 120_000,
    setupFiles: ['test/helpers/setup.ts'],
  },
});
