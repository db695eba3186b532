/**
 * Ends a vitest run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read
 * (vitest's own summary is decorated).
 */
import type { Reporter, TestModule } from "vitest/node"

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
      // a file that failed to load has no tests, and must still count as a failure
      if (m.state() === "failed" && [...m.children.allTests()].length === 0) failed++
    }
    // after vitest's own summary, so that it is the closing line
    process.once("exit", () => process.stdout.write(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`))
  }
}
