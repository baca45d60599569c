import { defineConfig } from "vitest/config";
import SpreadSequencer from "./test/support/spread-sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Integration tests start real processes and mostly wait on them (the suite keeps about 1.4 of
    // 2 cores busy with two files at a time); three at a time fills the gaps on a 2-core runner.
    maxWorkers: 3,
    // The few files that load the machine for minutes are kept apart (see spread-sequencer.ts).
    sequence: { sequencer: SpreadSequencer },
  },
});
