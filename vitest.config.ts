import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Integration tests start real processes; two files at a time suits a 2-core CI runner.
    maxWorkers: 2,
  },
});
