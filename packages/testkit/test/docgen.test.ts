/**
 * The API reference: `pnpm docgen` (scripts/docgen.ts) runs @effect/docgen over the three packages.
 * It fails on an export without a description, `@since` or `@category`, and on an `@example` that
 * does not typecheck or throws when run. The first test runs it on the packages as they are; the
 * others on a scratch package with one fault each, so the check is seen to fail.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const script = path.join(root, "scripts/docgen.ts")
const tsx = path.join(root, "node_modules/.bin/tsx")

/** `pnpm docgen` with these arguments: its exit code and everything it printed. */
const docgen = (...args: ReadonlyArray<string>) =>
  Effect.async<{ readonly exitCode: number; readonly output: string }>((resume) => {
    const child = execFile(tsx, [script, ...args], { cwd: root, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ exitCode, output: `${stdout}${stderr}` }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** A package of one module, `src/Thing.ts`, in a fresh directory removed at the end of the scope. */
const scratch = (source: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "docgen-check-"))
      fs.mkdirSync(path.join(dir, "src"))
      fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "scratch", homepage: "https://example.invalid" }))
      fs.writeFileSync(
        path.join(dir, "docgen.json"),
        JSON.stringify({ exclude: [], enforceDescriptions: true, examplesCompilerOptions: { strict: true, noEmit: true, types: [] } }),
      )
      fs.writeFileSync(path.join(dir, "src", "Thing.ts"), source)
      return dir
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
  )

const moduleDoc = "/**\n * A module.\n *\n * @since 0.1.0\n */\n"

describe("API reference (docgen)", () => {
  it.live(
    "core, kafka and testkit: every export documented with @since and @category, every example typechecks and runs",
    () =>
      Effect.gen(function* () {
        const { exitCode, output } = yield* docgen()
        expect(output).toMatch(/^ok +core: \d+ modules/m)
        expect(output).toMatch(/^ok +kafka: \d+ modules/m)
        expect(output).toMatch(/^ok +testkit: \d+ modules/m)
        expect(exitCode, output).toBe(0)
        for (const pkg of ["core", "kafka", "testkit"]) {
          expect(fs.existsSync(path.join(root, "packages", pkg, "docs", "modules", "index.ts.md")), pkg).toBe(true)
        }
      }),
    300_000,
  )

  it.scopedLive(
    "an export without @since fails it",
    () =>
      Effect.gen(function* () {
        const dir = yield* scratch(`${moduleDoc}/**\n * Two.\n *\n * @category constants\n */\nexport const two = 2\n`)
        const { exitCode, output } = yield* docgen("--dir", dir)
        expect(exitCode).toBe(1)
        expect(output).toContain("Missing @since tag in src/Thing.ts#two documentation")
      }),
    120_000,
  )

  it.scopedLive(
    "an export without @category fails it",
    () =>
      Effect.gen(function* () {
        const dir = yield* scratch(`${moduleDoc}/**\n * Two.\n *\n * @since 0.1.0\n */\nexport const two = 2\n`)
        const { exitCode, output } = yield* docgen("--dir", dir)
        expect(exitCode).toBe(1)
        expect(output).toContain("Missing @category tag:\n  src/Thing.ts#two")
      }),
    120_000,
  )

  it.scopedLive(
    "an example that does not typecheck fails it",
    () =>
      Effect.gen(function* () {
        const example = ' * @example\n * import { two } from "scratch/Thing"\n *\n * const s: string = two\n *\n'
        const dir = yield* scratch(`${moduleDoc}/**\n * Two.\n *\n${example} * @since 0.1.0\n * @category constants\n */\nexport const two = 2\n`)
        const { exitCode, output } = yield* docgen("--dir", dir)
        expect(exitCode).toBe(1)
        expect(output).toContain("Something went wrong while running tsc on examples")
        expect(output).toContain("error TS2322: Type 'number' is not assignable to type 'string'.")
      }),
    120_000,
  )
})
