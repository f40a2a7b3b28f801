import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-clients suite installs clients and runs for minutes: `npm run test:clients`.
    exclude: ['**/node_modules/**', 'test/clients/**'],
    pool: 'forks',
    // One test file per core. Vitest's default (cores − 1) runs the files one at a time on a
    // 2-core machine, yet most files spend their time waiting on the processes, servers and
    // deadlines they test; the tests hold under load (they wait for events, and their time limits
    // are hang guards). Measured on this 2-core machine: 924 s with one worker (load 22–55),
    // 544 s with two (load 12–25), the same tests passing.
    maxWorkers: availableParallelism(),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests never inherit the runner's credentials or platform signals: see test/helpers/env.ts.
    setupFiles: ['test/helpers/setup.ts'],
  },
});
