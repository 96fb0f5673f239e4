import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['gateway/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests open real sockets and child processes; two cores do not gain from more workers.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
