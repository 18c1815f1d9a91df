import { defineConfig } from 'vitest/config';

/** The worker's fault scenarios, and a failover, on a real Redis Cluster (see cluster/setup.ts). */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['apps/worker/test/scenarios.test.ts', 'cluster/**/*.test.ts'],
    globalSetup: ['cluster/setup.ts'],
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 90_000,
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default'],
  },
});
