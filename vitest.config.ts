import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "demo"],
    // Most test files wait on brokers, child processes and timers, not on the CPU: three files at
    // a time on a 2-core machine take the suite from about 20 to about 7 minutes.
    maxWorkers: 3,
    minWorkers: 1,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
})
