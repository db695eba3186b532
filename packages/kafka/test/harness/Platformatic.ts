/**
 * @platformatic/kafka (the workspace's devDependency) as a test peer: `platformatic_peer.ts` run in
 * its own process on a Node its engines field accepts. When this Node is older (it asks for 22), the
 * npm registry's `node` package of that major is installed once into `~/.cache/kafka-effect/node<N>`
 * (the same place and way as `pnpm bench`), and the peer runs on it. An install that fails fails with
 * the command and its output; nothing is skipped.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Effect, Schema } from "effect"

const here = path.dirname(fileURLToPath(import.meta.url))
const script = path.join(here, "platformatic_peer.ts")

/** Its package.json (not in its `exports`): the nearest one above its entry point. */
const packageJson = (() => {
  let dir = path.dirname(createRequire(import.meta.url).resolve("@platformatic/kafka"))
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir)
  return path.join(dir, "package.json")
})()

const pkg = Schema.decodeUnknownSync(
  Schema.parseJson(
    Schema.Struct({
      name: Schema.Literal("@platformatic/kafka"),
      version: Schema.String,
      engines: Schema.optional(Schema.Struct({ node: Schema.optional(Schema.String) })),
    }),
  ),
)(fs.readFileSync(packageJson, "utf8"))

/** The installed @platformatic/kafka's version. */
export const VERSION = pkg.version

/** The lowest Node major its engines range accepts (">= 22.22.0 || >= 24.6.0" → 22). */
const neededMajor = Math.min(...[...(pkg.engines?.node ?? ">=20").matchAll(/>=\s*(\d+)/g)].map((m) => Number(m[1])))

export class PlatformaticError extends Data.TaggedError("PlatformaticError")<{
  readonly step: string
  readonly command: string
  readonly detail: string
}> {
  override get message(): string {
    return `@platformatic/kafka peer: ${this.step} failed (${this.command}): ${this.detail}`
  }
}

const run = (step: string, file: string, args: ReadonlyArray<string>, timeoutMs: number, cwd?: string) =>
  Effect.async<string, PlatformaticError>((resume) => {
    const child = execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 64 << 20, cwd }, (error, stdout, stderr) => {
      if (error === null) resume(Effect.succeed(stdout))
      else
        resume(
          Effect.fail(
            new PlatformaticError({
              step,
              command: [file, ...args].join(" ").slice(0, 300),
              detail: `${error.message}\n${stderr}\n${stdout}`.trim().slice(-4000),
            }),
          ),
        )
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** A Node binary its engines accept: this one, or the cached `node@<major>` from the npm registry (installed if missing). */
export const ensureNode: Effect.Effect<{ readonly bin: string; readonly version: string }, PlatformaticError> = Effect.suspend(() => {
  if (Number(process.versions.node.split(".")[0]) >= neededMajor)
    return Effect.succeed({ bin: process.execPath, version: process.versions.node })
  const dir = path.join(os.homedir(), ".cache", "kafka-effect", `node${neededMajor}`)
  const bin = path.join(dir, "node_modules", ".bin", "node")
  const install = fs.existsSync(bin)
    ? Effect.void
    : Effect.sync(() => fs.mkdirSync(dir, { recursive: true })).pipe(
        Effect.zipRight(
          run("npm install node", "npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", `node@${neededMajor}`], 600_000),
        ),
      )
  return install.pipe(
    Effect.zipRight(run("node --version", bin, ["--version"], 30_000)),
    Effect.map((v) => ({ bin, version: v.trim().replace(/^v/, "") })),
  )
})

/** One case: a one-partition topic, the position to start at, the log end, a `fallbackMode`. */
export interface Case {
  readonly id: string
  readonly topic: string
  readonly position: number
  readonly end: number
  readonly setting: "earliest" | "latest" | "fail"
}

export const Outcome = Schema.Struct({
  id: Schema.String,
  client: Schema.Literal("platformatic"),
  setting: Schema.String,
  position: Schema.Number,
  offsets: Schema.Array(Schema.Number),
  resetTo: Schema.NullOr(Schema.Number),
  marker: Schema.NullOr(Schema.Number),
  markerDelivered: Schema.Boolean,
  error: Schema.NullOr(Schema.Struct({ type: Schema.String, message: Schema.String })),
  timedOut: Schema.Boolean,
  logs: Schema.Array(Schema.String),
})
export type Outcome = typeof Outcome.Type

const decodeLine = Schema.decodeUnknown(Schema.parseJson(Outcome))

/** Runs the cases one after another in one process; one outcome per case, in order, and the Node it ran on. */
export const runCases = (bootstrap: string, cases: ReadonlyArray<Case>, deadlineSeconds = 30) =>
  Effect.gen(function* () {
    const node = yield* ensureNode
    const stdout = yield* run(
      "platformatic_peer.ts",
      node.bin,
      ["--import", "tsx", script, JSON.stringify({ bootstrap, cases, deadline: deadlineSeconds })],
      (deadlineSeconds + 30) * 1000 * Math.max(1, cases.length),
      here,
    )
    const lines = stdout.split("\n").filter((l) => l.trim() !== "")
    const outcomes = yield* Effect.forEach(lines, (line) =>
      decodeLine(line).pipe(
        Effect.mapError((e) => new PlatformaticError({ step: "decode output", command: script, detail: `${line}: ${e.message}` })),
      ),
    )
    return { node: node.version, outcomes }
  })
