/**
 * The command line (`pnpm cli`) as a child process against librdkafka's mock cluster.
 */
import { layer } from "@effect/vitest"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, Queue, Ref, Stream } from "effect"
import { expect } from "vitest"
import { cli, root, runToEnd } from "./harness/ChildProcess.js"
import { clearLine } from "../src/bin/status.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as Producer from "./harness/Producer.js"


// node with tsx's loader, not the tsx command: tsx's signal relay SIGKILLs a child that does not
// acknowledge a signal within 30 ms, which a loaded machine cannot promise.
const command = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Command.make(process.execPath, "--import", "tsx", cli, ...args).pipe(Command.env({ KAFKA_BROKERS: "", ...env }), Command.workingDirectory(root))

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
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, Record<string, string>?]> = [
          [["consume", "--topic", "t"], "--brokers"],
          [["consume", "--brokers", "nohost", "--topic", "t"], "--brokers"],
          [["consume", "--brokers", mock.bootstrap], "--topic"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--from", "yesterday"], "--from"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--max", "-3"], "--max"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--partitions", "0,x"], "--partitions"],
          [["offsets", "--brokers", mock.bootstrap, "--topic", "t", "--max", "3"], "--max"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--group", "g", "--partitions", "0"], "--partitions"],
          [["consume", "--brokers", mock.bootstrap, "--topic", "t", "--value-format", "hex"], "--value-format"],
          [["consume", "--topic", "t"], "KAFKA_BROKERS", { KAFKA_BROKERS: "a:1,nohost" }],
          [["produce"], "produce"],
        ]
        const results = yield* Effect.forEach(cases, ([args, , env]) => run(args, env), { concurrency: 2 })
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

  it.effect(
    "consume --key-format base64 --value-format json, --format text; a value that is not JSON stops it with one line naming the record, exit 1",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("cli-formats", 1)
        yield* produce("cli-formats", 0, [{ key: "k", value: '{"a":1}' }, { value: "[2]" }, { value: "not json" }])
        const base = ["consume", "--brokers", mock.bootstrap, "--topic", "cli-formats"]
        const [json, text, notJson] = yield* Effect.all(
          [
            run([...base, "--from", "beginning", "--max", "2", "--key-format", "base64", "--value-format", "json"]),
            run([...base, "--from", "1", "--max", "2", "--format", "text"]),
            run([...base, "--from", "2", "--max", "1", "--value-format", "json"]),
          ],
          { concurrency: 2 },
        )
        expect(json.exitCode).toBe(0)
        expect(json.stdout.map((l) => JSON.parse(l))).toEqual([
          { topic: "cli-formats", partition: 0, offset: "0", key: "aw==", value: { a: 1 } },
          { topic: "cli-formats", partition: 0, offset: "1", key: null, value: [2] },
        ])
        expect(text.exitCode).toBe(0)
        expect(text.stdout).toEqual(["cli-formats-0@1\t-\t[2]", "cli-formats-0@2\t-\tnot json"])
        expect(notJson.exitCode).toBe(1)
        expect(notJson.stdout).toEqual([])
        expect(notJson.stderr.filter((l) => l.startsWith("kafka-effect:"))).toEqual([
          expect.stringMatching(/^kafka-effect: --value-format json: cli-formats-0@2 is not JSON \(.+\); use utf8 or base64$/),
        ])
      }),
    90_000,
  )

  it.scoped(
    "consume --progress always: a live line on stderr with records/s, the lag per partition and the resets so far",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("cli-progress", 2)
        yield* produce("cli-progress", 0, [{ value: "a" }, { value: "b" }])
        const proc = yield* Command.start(command(["consume", "--brokers", mock.bootstrap, "--topic", "cli-progress", "--from", "5", "--progress", "always"]))
        const stderr = yield* Ref.make("")
        yield* proc.stderr.pipe(Stream.decodeText(), Stream.runForEach((t) => Ref.update(stderr, (s) => s + t)), Effect.forkScoped)
        const stdout = yield* Queue.unbounded<string>()
        yield* proc.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach((l) => Queue.offer(stdout, l)), Effect.forkScoped)
        // Both partitions were asked for offset 5, past their ends (2 and 0): two resets, no lag.
        const live = new RegExp(`${clearLine.replace("[", "\\[")}(\\d+) records/s {2}lag (\\d+) \\((0:\\d+) (1:\\d+)\\) {2}resets (\\d+)`, "g")
        const lastLine = Ref.get(stderr).pipe(Effect.map((s) => [...s.matchAll(live)].at(-1)))
        const settled = yield* Effect.gen(function* () {
          for (;;) {
            const m = yield* lastLine
            if (m?.[5] === "2") return m
            yield* Effect.sleep("200 millis")
          }
        }).pipe(Effect.timeout("45 seconds"))
        expect(settled?.slice(2)).toEqual(["0", "0:0", "1:0", "2"])
        yield* produce("cli-progress", 1, [{ value: "new" }])
        expect(JSON.parse(yield* takeLine(stdout, "record"))).toMatchObject({ partition: 1, offset: "0", value: "new" })
        yield* proc.kill("SIGINT")
        expect(yield* proc.exitCode.pipe(Effect.timeout("45 seconds"))).toBe(0)
        // The warnings are lines of their own, and the live line is cleared at the end.
        const all = yield* Ref.get(stderr)
        expect(all.split("\n").filter((l) => l.includes("Offset out of range"))).toHaveLength(2)
        expect(all.endsWith(clearLine)).toBe(true)
      }),
    90_000,
  )

  it.scoped(
    "kafka-effect broker: the embedded broker through the same program, offsets against it, SIGTERM stops it, exit 0",
    () =>
      Effect.gen(function* () {
        const broker = yield* start(["broker", "--port", "0", "--topic", "cli-embedded:2"])
        const bootstrap = (yield* takeLine(broker.stdout, "bootstrap")).replace(/^bootstrap: /, "")
        expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/)
        const out = yield* run(["offsets", "--brokers", bootstrap, "--topic", "cli-embedded"])
        expect(out.exitCode).toBe(0)
        expect(out.stdout.map((l) => JSON.parse(l))).toEqual([0, 1].map((partition) => ({ topic: "cli-embedded", partition, earliest: "0", latest: "0" })))
        yield* broker.proc.kill("SIGTERM")
        expect(yield* broker.proc.exitCode.pipe(Effect.timeout("45 seconds"))).toBe(0)
        let last = ""
        while (last !== "broker stopped") last = yield* takeLine(broker.stdout, "broker stopped")
      }),
    90_000,
  )

  it.effect(
    "--help lists the four commands; --completions bash completes a command's options",
    () =>
      Effect.gen(function* () {
        const [help, completions] = yield* Effect.all([run(["--help"]), run(["--completions", "bash"])], { concurrency: 2 })
        expect(help.exitCode).toBe(0)
        for (const name of ["offsets", "consume", "broker", "kafka"]) expect(help.stdout.some((l) => l.includes(`- ${name} `))).toBe(true)
        expect(completions.exitCode).toBe(0)
        const script = completions.stdout.join("\n")
        const complete = (...words: ReadonlyArray<string>) =>
          runToEnd(
            Command.make(
              "bash",
              "-c",
              `${script}\nCOMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _kafka-effect_bash_completions kafka-effect; echo "\${COMPREPLY[@]}"`,
            ),
          )
        expect((yield* complete("kafka-effect", "con")).stdout).toEqual(["consume"])
        expect((yield* complete("kafka-effect", "consume", "--value-f")).stdout).toEqual(["--value-format"])
      }),
    90_000,
  )
})
