import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-clients suite installs clients and runs for minutes: `npm run test:clients`.
    exclude: ['**/node_modules/**', 'test/clients/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests never inherit the runner's credentials or platform signals: see test/helpers/env.ts.
    setupFiles: ['test/helpers/setup.ts'],
  },
});
