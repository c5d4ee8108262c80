import { defineConfig } from 'vitest/config';

// Unit tests are pure and run in parallel; integration tests build namespaces, move real traffic
// and measure rates, so they run one file at a time, after the unit tests are done (groupOrder),
// to keep two cores from skewing each other.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.{ts,tsx}'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.{ts,tsx}'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          // names what this machine lacks (and the package to install) at the end of the run
          globalSetup: ['test/helpers/missing-facilities.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
