/**
 * Short runs of `pnpm soak` (the long ones are on demand), as child processes the way a user runs
 * it: a seeded schedule of faults against the in-memory broker under TestClock, the embedded wire
 * broker and a three-node Apache Kafka cluster, members in child processes SIGKILLed and
 * restarted. Each run's JSON line must show the invariants: nothing lost (delivered + skipped =
 * acknowledged), no consumer died of a fault, no duplicate within a generation, per-partition
 * order, committed offsets never backwards. The checks themselves are shown to fail on books
 * broken on purpose (`--sabotage`), and the memory kind to replay the same run from its seed.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { root, runToEnd } from "./harness/ChildProcess.js"

const Summary = Schema.Struct({
  seed: Schema.Number,
  broker: Schema.Literal("memory", "embedded", "kafka"),
  faults: Schema.Number,
  acknowledged: Schema.Number,
  delivered: Schema.Number,
  skipped: Schema.Number,
  duplicates: Schema.Number,
  lost: Schema.Number,
  crashes: Schema.Number,
  minutes: Schema.Number,
  redelivered: Schema.Number,
  outOfOrder: Schema.Number,
  commitRegressions: Schema.Number,
  wrongSkips: Schema.Number,
  corrupt: Schema.Number,
  resets: Schema.Number,
  kills: Schema.Number,
  joins: Schema.Number,
  generations: Schema.Number,
  faultKinds: Schema.Record({ key: Schema.String, value: Schema.Number }),
  seconds: Schema.Number,
  ok: Schema.Boolean,
})
type Summary = typeof Summary.Type

const soak = (...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const run = yield* runToEnd(Command.make(process.execPath, "--import", "tsx", "soak/run.ts", ...args).pipe(Command.workingDirectory(root)))
    const lines = run.stdout.filter((l) => l.startsWith("{"))
    expect(lines.length, run.stderr.join("\n")).toBe(1)
    const summary = yield* Schema.decodeUnknown(Schema.parseJson(Summary))(lines[0])
    return { ...run, summary }
  }).pipe(Effect.provide(NodeContext.layer))

/** The invariants, each on its own so a failure says which one broke. */
const expectHolds = (s: Summary, stderr: ReadonlyArray<string>) => {
  const context = `${JSON.stringify(s)}\n${stderr.filter((l) => l.startsWith("soak:")).join("\n")}`
  expect(s.acknowledged, context).toBeGreaterThan(0)
  expect(s.faults, context).toBeGreaterThan(0)
  expect(s.lost, context).toBe(0)
  expect(s.delivered + s.skipped, context).toBe(s.acknowledged)
  expect(s.crashes, context).toBe(0)
  expect(s.duplicates, context).toBe(0)
  expect(s.outOfOrder, context).toBe(0)
  expect(s.commitRegressions, context).toBe(0)
  expect(s.wrongSkips, context).toBe(0)
  expect(s.corrupt, context).toBe(0)
  expect(s.ok, context).toBe(true)
}

describe("pnpm soak, short runs", () => {
  it.live(
    "memory (TestClock): the invariants hold; the same seed replays the same run",
    () =>
      Effect.gen(function* () {
        const first = yield* soak("--broker", "memory", "--seed", "7", "--minutes", "0.1")
        expect(first.exitCode, first.stderr.join("\n")).toBe(0)
        expectHolds(first.summary, first.stderr)
        expect(first.summary.kills + first.summary.resets).toBeGreaterThan(0)
        const again = yield* soak("--broker", "memory", "--seed", "7", "--minutes", "0.1")
        const { seconds: _a, ...one } = first.summary
        const { seconds: _b, ...two } = again.summary
        expect(two).toEqual(one)
      }),
    180_000,
  )

  it.live(
    "memory: books broken on purpose fail the run (a dropped delivery is lost, a repeated one a duplicate), exit code 1",
    () =>
      Effect.gen(function* () {
        const dropped = yield* soak("--broker", "memory", "--seed", "7", "--minutes", "0.02", "--sabotage", "drop")
        expect(dropped.exitCode).toBe(1)
        expect(dropped.summary.lost).toBe(1)
        expect(dropped.summary.delivered + dropped.summary.skipped).toBe(dropped.summary.acknowledged - 1)
        expect(dropped.summary.ok).toBe(false)
        expect(dropped.stderr.join("\n")).toContain("replay with: pnpm soak --broker memory --seed 7 --minutes 0.02")
        const repeated = yield* soak("--broker", "memory", "--seed", "7", "--minutes", "0.02", "--sabotage", "duplicate")
        expect(repeated.exitCode).toBe(1)
        expect(repeated.summary.duplicates).toBe(1)
        expect(repeated.summary.lost).toBe(0)
      }),
    180_000,
  )

  it.live(
    "embedded wire broker: members in child processes behind a FaultProxy, SIGKILLed and restarted; the invariants hold",
    () =>
      Effect.gen(function* () {
        const run = yield* soak("--broker", "embedded", "--seed", "11", "--minutes", "0.25")
        expect(run.exitCode, run.stderr.join("\n")).toBe(0)
        expectHolds(run.summary, run.stderr)
        expect(run.summary.joins).toBeGreaterThanOrEqual(3)
      }),
    240_000,
  )

  it.live(
    "three-node Apache Kafka: a broker SIGKILLed and restarted, leaders moving, members killed; the invariants hold",
    () =>
      Effect.gen(function* () {
        const run = yield* soak("--broker", "kafka", "--seed", "5", "--minutes", "0.5")
        expect(run.exitCode, run.stderr.join("\n")).toBe(0)
        expectHolds(run.summary, run.stderr)
      }),
    400_000,
  )
})
