import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['gateway/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests open real sockets and child processes; two cores do not gain from more workers.
    maxWorkers: 2,
    // expect.poll waits for a state (a dashboard value, a row count) until it holds: give a loaded
    // machine the test's time for it, not vitest's default one-second window.
    expect: { poll: { timeout: 15_000 } },
    reporters: ['default'],
  },
});
