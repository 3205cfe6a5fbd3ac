import { defineConfig } from 'vitest/config';

/** Tests that measure latency under load: they run last and alone, so no other test file shares the cores. */
const QUIET = ['tests/endpoints/isolation.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['tests/setup/global.ts'],
    // Model workers use both cores; two test files at a time is what this size of machine carries.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'main', include: ['tests/**/*.test.ts'], exclude: QUIET, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'quiet', include: QUIET, sequence: { groupOrder: 1 } } },
    ],
  },
});
