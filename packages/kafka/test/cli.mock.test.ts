/**
 * The command line (`pnpm cli`) as a child process against librdkafka's mock cluster.
 */
import { layer } from "@effect/vitest"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Queue, Stream } from "effect"
import { expect } from "vitest"
import { cli, root, runToEnd, tsx } from "./harness/ChildProcess.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as Producer from "./harness/Producer.js"


const command = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Command.make(tsx, cli, ...args).pipe(Command.env({ KAFKA_BROKERS: "", ...env }), Command.workingDirectory(root))

/** Runs the CLI to its end: exit code, stdout lines, stderr lines. */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => runToEnd(command(args, env))

/** Starts the CLI; its output lines arrive on queues. */
const start = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const proc = yield* Command.start(command(args))
    const stdout = yield* Queue.unbounded<string>()
    const stderr = yield* Queue.unbounded<string>()
    yield* proc.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach((l) => Queue.offer(stdout, l)), Effect.forkScoped)
    yield* proc.stderr.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach((l) => Queue.offer(stderr, l)), Effect.forkScoped)
    return { proc, stdout, stderr }
  })

const takeLine = (q: Queue.Queue<string>, what: string) =>
  Queue.take(q).pipe(Effect.timeoutFail({ duration: "45 seconds", onTimeout: () => new Error(`no ${what} line`) }))

const produce = (topic: string, partition: number, records: ReadonlyArray<{ key?: string | null; value: string }>) =>
  Effect.flatMap(Producer.Producer, (p) => p.send(topic, partition, records.map((r) => ({ key: r.key ?? null, value: r.value }))))

const env = Layer.mergeAll(Producer.layer, NodeContext.layer).pipe(Layer.provideMerge(MockCluster.layer(3)))

layer(env, { excludeTestServices: true, timeout: "120 seconds" })("kafka-effect CLI against the mock cluster", (it) => {
  it.effect(
    "offsets prints earliest and latest per partition; KAFKA_BROKERS stands in for --brokers",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("cli-offsets", 3)
        yield* produce("cli-offsets", 0, [{ value: "a" }, { value: "b" }])
        yield* produce("cli-offsets", 2, [{ value: "c" }])
        const expected = [
          { topic: "cli-offsets", partition: 0, earliest: "0", latest: "2" },
          { topic: "cli-offsets", partition: 1, earliest: "0", latest: "0" },
          { topic: "cli-offsets", partition: 2, earliest: "0", latest: "1" },
        ]
        const out = yield* run(["offsets", "--brokers", mock.bootstrap, "--topic", "cli-offsets"])
        expect(out.exitCode).toBe(0)
        expect(out.stdout.map((l) => JSON.parse(l))).toEqual(expected)
        const viaEnv = yield* run(["offsets", "--topic", "cli-offsets"], { KAFKA_BROKERS: mock.bootstrap })
        expect(viaEnv.exitCode).toBe(0)
        expect(viaEnv.stdout.map((l) => JSON.parse(l))).toEqual(expected)
      }),
    90_000,
  )

  it.effect(
    "consume --from beginning --max N prints N records as JSON and exits 0; --partitions and --from <offset> narrow it",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("cli-consume", 2)
        yield* produce("cli-consume", 0, [{ key: "k0", value: "zero" }, { value: "one" }, { key: "k2", value: "two" }])
        yield* produce("cli-consume", 1, [{ key: "x", value: "p1-0" }, { value: "p1-1" }, { value: "p1-2" }])
        const all = yield* run(["consume", "--brokers", mock.bootstrap, "--topic", "cli-consume", "--from", "beginning", "--max", "6"])
        expect(all.exitCode).toBe(0)
        const records = all.stdout.map((l) => JSON.parse(l))
        expect(records.filter((r) => r.partition === 0)).toEqual([
          { topic: "cli-consume", partition: 0, offset: "0", key: "k0", value: "zero" },
          { topic: "cli-consume", partition: 0, offset: "1", key: null, value: "one" },
          { topic: "cli-consume", partition: 0, offset: "2", key: "k2", value: "two" },
        ])
        expect(records.filter((r) => r.partition === 1).map((r) => r.value)).toEqual(["p1-0", "p1-1", "p1-2"])
        const narrow = yield* run([
          "consume",
          "--brokers",
          mock.bootstrap,
          "--topic",
          "cli-consume",
          "--partitions",
          "1",
          "--from",
          "1",
          "--max",
          "2",
        ])
        expect(narrow.exitCode).toBe(0)
        expect(narrow.stdout.map((l) => JSON.parse(l))).toEqual([
          { topic: "cli-consume", partition: 1, offset: "1", key: null, value: "p1-1" },
          { topic: "cli-consume", partition: 1, offset: "2", key: null, value: "p1-2" },
        ])
      }),
    90_000,
  )

  it.scoped(
    "consume --from beyond the log end warns about the reset on stderr, then prints the next record; Ctrl-C exits 0",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("cli-reset", 1)
        yield* produce("cli-reset", 0, [{ value: "old-0" }, { value: "old-1" }])
        const cliProc = yield* start(["consume", "--brokers", mock.bootstrap, "--topic", "cli-reset", "--from", "100"])
        // Other warnings (kafkajs's) may come first: wait for the reset line.
        let warning = ""
        while (!warning.includes("Offset out of range")) warning = yield* takeLine(cliProc.stderr, "reset warning")
        expect(warning).toContain("level=WARN")
        expect(warning).toContain("Offset out of range, resetting to 2")
        expect(warning).toContain("requestedOffset=100")
        yield* produce("cli-reset", 0, [{ key: "k", value: "new" }])
        const line = yield* takeLine(cliProc.stdout, "record")
        expect(JSON.parse(line)).toEqual({ topic: "cli-reset", partition: 0, offset: "2", key: "k", value: "new" })
        yield* cliProc.proc.kill("SIGINT")
        const exitCode = yield* cliProc.proc.exitCode.pipe(Effect.timeout("45 seconds"))
        expect(exitCode).toBe(0)
      }),
    90_000,
  )

  it.effect(
    "a topic the cluster does not know: one line on stderr, exit 1",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.topicError("cli-missing", 3)
        const out = yield* run(["offsets", "--brokers", mock.bootstrap, "--topic", "cli-missing"])
        expect(out.exitCode).toBe(1)
        expect(out.stdout).toEqual([])
        expect(out.stderr.filter((l) => l.startsWith("kafka-effect:"))).toEqual(["kafka-effect: Unknown topic cli-missing"])
      }),
    90_000,
  )

  it.effect(
    "bad arguments: one line naming the argument, exit 2",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
          [["consume", "--topic", "t"], "--brokers"],
          [["consume", "--brokers", "nohost", "--topic", "t"], "--brokers"],
          [["consume", "--brokers", mock.bootstrap], "--topic"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--from", "yesterday"], "--from"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--max", "-3"], "--max"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--partitions", "0,x"], "--partitions"],
          [["offsets", "--brokers", mock.bootstrap, "--topic", "t", "--max", "3"], "--max"],
          [["produce"], "produce"],
        ]
        const results = yield* Effect.forEach(cases, ([args]) => run(args), { concurrency: 2 })
        for (const [i, [, name]] of cases.entries()) {
          const r = results[i]!
          expect(r.exitCode).toBe(2)
          expect(r.stdout).toEqual([])
          expect(r.stderr).toHaveLength(1)
          expect(r.stderr[0]).toContain(name)
        }
      }),
    120_000,
  )
})
