import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "demo"],
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
})
