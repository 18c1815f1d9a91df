import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'chaos/**/*.test.ts', 'bench/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real processes, sshd and redis: keep the box (2 cores) from oversubscription.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
