/**
 * Short runs of `pnpm soak` (the long ones are on demand), as child processes the way a user runs
 * it: a seeded schedule of faults against the in-memory broker under TestClock, the embedded wire
 * broker and real Apache Kafka (the suite's shared node, `--bootstrap`: no broker kills here; the
 * three-node kind with broker kills is the long run's, and failover.realkafka.test.ts kills
 * brokers in the suite), members in child processes SIGKILLed and restarted. Each run's JSON line
 * must show the invariants: nothing lost (delivered + skipped = acknowledged), no consumer died of
 * a fault, no duplicate within a generation, per-partition order, committed offsets never
 * backwards. The checks themselves are shown to fail on books broken on purpose (`--sabotage`), in
 * a replay of the memory run from its seed.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { root, runToEnd } from "./harness/ChildProcess.js"
import * as RealKafka from "./harness/RealKafka.js"

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

/** What the seed decides: the same in a replay, sabotaged or not. */
const schedule = (s: Summary) => ({
  faults: s.faults,
  faultKinds: s.faultKinds,
  acknowledged: s.acknowledged,
  kills: s.kills,
  joins: s.joins,
  generations: s.generations,
  resets: s.resets,
  skipped: s.skipped,
  commitRegressions: s.commitRegressions,
})

// The three at once: the wire runs mostly wait (the fault schedule, member processes starting, the
// drain), the memory run mostly computes.
describe.concurrent("pnpm soak, short runs", () => {
  it.live(
    "memory (TestClock): the invariants hold; a replay of the seed is the same run, and with books broken on purpose it fails (exit code 1)",
    () =>
      Effect.gen(function* () {
        const args = ["--broker", "memory", "--seed", "9", "--minutes", "0.05"]
        const first = yield* soak(...args)
        expect(first.exitCode, first.stderr.join("\n")).toBe(0)
        expectHolds(first.summary, first.stderr)
        expect(first.summary.kills + first.summary.resets).toBeGreaterThan(0)
        // The replay, with partition 0's offset 10 dropped from the books and partition 1's reported twice.
        const broken = yield* soak(...args, "--sabotage", "drop,duplicate")
        expect(broken.exitCode).toBe(1)
        expect(schedule(broken.summary)).toEqual(schedule(first.summary))
        expect(broken.summary.lost).toBe(1)
        expect(broken.summary.delivered).toBe(first.summary.delivered - 1)
        expect(broken.summary.duplicates).toBe(1)
        expect(broken.summary.ok).toBe(false)
        expect(broken.stderr.join("\n")).toContain("replay with: pnpm soak --broker memory --seed 9 --minutes 0.05 --sabotage drop,duplicate")
      }),
    120_000,
  )

  it.live(
    "embedded wire broker: members in child processes behind a FaultProxy, SIGKILLed and restarted; the invariants hold",
    () =>
      Effect.gen(function* () {
        const run = yield* soak("--broker", "embedded", "--seed", "11", "--minutes", "0.1")
        expect(run.exitCode, run.stderr.join("\n")).toBe(0)
        expectHolds(run.summary, run.stderr)
        expect(run.summary.joins).toBeGreaterThanOrEqual(3)
      }),
    180_000,
  )

  it.live(
    "Apache Kafka (the suite's node): members killed and joining, proxy faults, DeleteRecords; the invariants hold",
    () =>
      Effect.gen(function* () {
        const run = yield* soak("--broker", "kafka", "--seed", "5", "--minutes", "0.15", "--bootstrap", RealKafka.bootstrap())
        expect(run.exitCode, run.stderr.join("\n")).toBe(0)
        expectHolds(run.summary, run.stderr)
        expect(run.summary.faultKinds.brokerKill).toBeUndefined()
      }),
    180_000,
  )
})
