/**
 * The examples in examples/, each run as a child process the way a user runs it (`tsx examples/…`,
 * KAFKA_BROKERS in the environment) against a broker reached only over TCP: the embedded broker, and
 * for the group service's graceful shutdown also the suite's real Apache Kafka.
 */
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect, Fiber, Queue, Schedule, Stream } from "effect"
import * as Producer from "../src/Producer.js"
import { root, runToEnd } from "./harness/ChildProcess.js"
import * as RealAdmin from "./harness/RealAdmin.js"
import * as RealKafka from "./harness/RealKafka.js"

// node with tsx's loader, not the tsx command: tsx's signal relay SIGKILLs a child that does not
// acknowledge a signal within 30 ms, which a loaded machine cannot promise.
const example = (name: string, brokers: string, ...args: ReadonlyArray<string>) =>
  Command.make(process.execPath, "--import", "tsx", `examples/${name}.ts`, ...args).pipe(Command.workingDirectory(root), Command.env({ KAFKA_BROKERS: brokers }))

/** Runs an example to its end: exit code, stdout lines, stderr as one string. */
const run = (name: string, brokers: string, ...args: ReadonlyArray<string>) =>
  runToEnd(example(name, brokers, ...args)).pipe(
    Effect.map(({ exitCode, stdout, stderr }) => ({ exitCode, stdout, stderr: stderr.join("\n") })),
    Effect.provide(NodeContext.layer),
  )

/** `orders-0@10..14 orders-1@3..3` → [["orders-0", 10n, 14n], …]. */
const ranges = (line: string) =>
  [...line.matchAll(/(\S+)-(\d+)@(\d+)\.\.(\d+)/g)].map((m) => ({ partition: Number(m[2]), first: BigInt(m[3]!), last: BigInt(m[4]!) }))

/**
 * examples/group-service.ts on `brokers`: records keep arriving on three partitions while it runs;
 * SIGTERM once it has started a few chunks. The chunk in flight finishes, the group's committed
 * offsets are exactly the end of what it printed as processed, the member has left, exit 0.
 */
const gracefulShutdown = (brokers: ReadonlyArray<string>, topic: string, createTopic: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const group = `${topic}-service`
    yield* createTopic
    const producer = yield* Producer.make({ brokers, clientId: "examples-test" })
    const proc = yield* Command.start(example("group-service", brokers.join(","), topic, group, "150"))
    const lines = yield* Queue.unbounded<string>()
    // The service's own lines (the group's INFO logs go to stdout too).
    const stdout: Array<string> = []
    yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((l) => /^(joined|processing|processed|stopped)/.test(l)),
      Stream.runForEach((l) => Effect.zipRight(Effect.sync(() => stdout.push(l)), Queue.offer(lines, l))),
      Effect.forkScoped,
    )
    const stderr: Array<string> = []
    yield* proc.stderr.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach((l) => Effect.sync(() => stderr.push(l))), Effect.forkScoped)
    const until = (what: string, count: number) =>
      Effect.gen(function* () {
        let seen = 0
        while (seen < count) if ((yield* Queue.take(lines)).startsWith(what)) seen++
      }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`no ${what} line: ${stdout.join("\n")}\n${stderr.join("\n")}`) }))
    yield* until("joined", 1)
    // Five records per partition every 100 ms, until the service is gone.
    let batch = 0
    const producing = yield* Effect.forEach([0, 1, 2], (partition) =>
      producer.send(topic, Array.from({ length: 5 }, (_, i) => ({ value: `batch ${batch} record ${i}`, partition }))),
    ).pipe(
      Effect.tap(() => Effect.sync(() => batch++)),
      Effect.repeat(Schedule.spaced("100 millis")),
      Effect.forkScoped,
    )
    yield* until("processing", 4)
    yield* proc.kill("SIGTERM")
    const exitCode = yield* proc.exitCode.pipe(Effect.timeout("60 seconds"))
    yield* Fiber.interrupt(producing)
    expect(exitCode, stderr.join("\n")).toBe(0)

    // Every chunk it started, it finished; the last lines say so.
    const started = stdout.filter((l) => l.startsWith("processing "))
    const done = stdout.filter((l) => l.startsWith("processed "))
    expect(done.map((l) => l.slice("processed ".length))).toEqual(started.map((l) => l.slice("processing ".length)))
    expect(stdout.at(-1)).toBe("stopped: offsets committed, left the group")
    expect(stdout.at(-2)).toMatch(/^processed /)

    // Committed: the offset after the last record printed as processed, per partition; nothing elsewhere.
    const expected = new Map<number, bigint>()
    for (const line of done) for (const r of ranges(line)) expected.set(r.partition, r.last + 1n)
    expect(expected.size).toBeGreaterThan(0)
    const { admin } = yield* RealAdmin.make(brokers)
    const [offsets] = yield* Effect.promise(() => admin.fetchOffsets({ groupId: group, topics: [topic] }))
    const committed = new Map((offsets?.partitions ?? []).filter((p) => p.offset !== "-1").map((p) => [p.partition, BigInt(p.offset)]))
    expect(committed).toEqual(expected)
    // It left the group: no member is waiting for a session timeout.
    const { groups } = yield* Effect.promise(() => admin.describeGroups([group]))
    expect(groups[0]?.members).toEqual([])
    expect(groups[0]?.state).toBe("Empty")
  })

describe("examples/", () => {
  it.scopedLive(
    "quick-start.ts (the README's): seeks orders-0 to 42 and prints ten records",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        yield* control.createTopic("orders", 1)
        yield* control.produce("orders", 0, Array.from({ length: 60 }, (_, i) => ({ value: `order ${i}` })))
        const out = yield* run("quick-start", broker.bootstrap)
        expect(out.exitCode, out.stderr).toBe(0)
        expect(out.stdout.filter((l) => l !== "")).toEqual(Array.from({ length: 10 }, (_, i) => `orders-0@${42 + i} order ${42 + i}`))
      }).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 1 }))),
    60_000,
  )

  it.scopedLive(
    "round-trip.ts: the Producer sends three records, the Consumer reads them back from the first one's offset",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        yield* control.createTopic("orders", 2)
        yield* control.produce("orders", 0, [{ value: "earlier" }])
        const out = yield* run("round-trip", broker.bootstrap, "orders")
        expect(out.exitCode, out.stderr).toBe(0)
        expect(out.stdout.filter((l) => l !== "")).toEqual([
          "sent 3 records to orders-0 from offset 1",
          "received orders-0@1 k1=first source:round-trip",
          "received orders-0@2 k2=second",
          "received orders-0@3 k1=third",
        ])
      }).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 1 }))),
    60_000,
  )

  it.scopedLive(
    "recovery.ts: earliest heals past the end with an event and replays from the log start; fail hands OffsetOutOfRange to the program",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        yield* control.createTopic("orders", 1)
        const out = yield* run("recovery", broker.bootstrap, "orders")
        expect(out.exitCode, out.stderr).toBe(0)
        expect(out.stdout.filter((l) => l.startsWith("earliest:") || l.startsWith("fail:"))).toEqual([
          "earliest: requested 1000, valid [0, 10], now at 0; first record 0 record 0",
          "fail: Offset 1000 is out of range for orders-0; the program seeks to the end itself",
          "fail: position now 10",
        ])
      }).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 1 }))),
    60_000,
  )

  it.scopedLive(
    "group-service.ts on the embedded broker: SIGTERM mid-stream finishes the chunk, commits exactly what was processed, leaves, exit 0",
    () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        yield* gracefulShutdown(broker.brokers, "service", control.createTopic("service", 3))
      }).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 1 })), Effect.provide(NodeContext.layer)),
    120_000,
  )

  it.scopedLive(
    "group-service.ts on real Apache Kafka: SIGTERM mid-stream finishes the chunk, commits exactly what was processed, leaves, exit 0",
    () =>
      Effect.gen(function* () {
        const brokers = RealKafka.brokers()
        const topic = RealKafka.topicName("example-service")
        const admin = yield* RealAdmin.make(brokers)
        yield* gracefulShutdown(brokers, topic, admin.createTopic({ topic, partitions: 3 }))
        yield* admin.deleteTopic(topic)
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000,
  )
})
