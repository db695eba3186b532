import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Metric, Option, Queue, Schedule, Stream, TestClock } from "effect"
import * as Consumer from "../src/Consumer.js"
import * as ConsumerMetrics from "../src/ConsumerMetrics.js"
import { type ConsumerRecord, utf8 } from "../src/ConsumerRecord.js"
import { CorruptResponse, FetchError, TopicAuthorizationFailed } from "../src/KafkaError.js"
import * as OffsetRecovery from "../src/OffsetRecovery.js"
import * as TopicPartition from "../src/TopicPartition.js"
import { makeFakeBroker } from "./harness/FakeBroker.js"
import { makeTestLogger } from "./harness/testLogger.js"

const t0 = TopicPartition.make("t", 0)
const t1 = TopicPartition.make("t", 1)

const values = (records: Iterable<ConsumerRecord>) => [...records].map((r) => `${r.partition}:${utf8(r.value)}@${r.offset}`)

const take = <E>(consumer: { readonly records: Stream.Stream<ConsumerRecord, E> }, n: number) =>
  consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

describe("Consumer", () => {
  it.scoped("delivers records from the position, dropping those below it, and advances", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a", "b", "c", "d", "e"])
      const consumer = yield* Consumer.make().pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0])
      yield* consumer.seek(t0, 3n)
      const got = yield* take(consumer, 2)
      expect(values(got)).toEqual(["0:d@3", "0:e@4"])
      expect(yield* consumer.position(t0)).toBe(5n)
    }))

  it.scoped("an out-of-range answer is healed: warning, event and metrics, and consumption goes on", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const logs = yield* makeTestLogger
      yield* broker.produce("t", 0, ["a", "b", "c", "d", "e", "f"])
      yield* broker.deleteRecords("t", 0, 4n)
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } }).pipe(Effect.provide(broker.layer))
      const events = yield* consumer.subscribeEvents
      const resetsBefore = yield* Metric.value(ConsumerMetrics.forTopic(ConsumerMetrics.offsetResets, "t"))
      const skippedBefore = yield* Metric.value(ConsumerMetrics.forTopic(ConsumerMetrics.offsetsSkipped, "t"))
      yield* consumer.assign([t0])
      yield* consumer.seek(t0, 1n)
      const got = yield* take(consumer, 2).pipe(Effect.provide(logs.layer))
      expect(values(got)).toEqual(["0:e@4", "0:f@5"])
      const event = yield* Queue.take(events)
      expect(event).toMatchObject({ _tag: "OffsetReset", topic: "t", partition: 0, requestedOffset: 1n, earliest: 4n, latest: 6n, newOffset: 4n, skipped: 3n, policy: "nearest" })
      const warnings = (yield* logs.lines).filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.message).toBe("Offset out of range, resetting to 4 (t-0: requested 1, log start 4, end 6, skipped 3)")
      expect(warnings[0]!.annotations).toMatchObject({ topic: "t", partition: 0, requestedOffset: "1", earliest: "4", latest: "6", newOffset: "4", skipped: "3" })
      const resets = yield* Metric.value(ConsumerMetrics.forTopic(ConsumerMetrics.offsetResets, "t"))
      const skipped = yield* Metric.value(ConsumerMetrics.forTopic(ConsumerMetrics.offsetsSkipped, "t"))
      expect(resets.count - resetsBefore.count).toBe(1)
      expect(skipped.count - skippedBefore.count).toBe(3n)
      // Fetch (out of range), ListOffsets x2 (one round trip), Fetch; then at most the next fetch,
      // sent ahead while the records were delivered.
      const apis = (yield* broker.requests).map((r) => r.api)
      expect(apis.slice(0, 4)).toEqual(["Fetch", "ListOffsets", "ListOffsets", "Fetch"])
      expect(apis.slice(4).every((api) => api === "Fetch") && apis.length <= 5).toBe(true)
    }))

  it.scoped("a fetch in flight when a seek happens is discarded: no record from before the seek after it", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a", "b", "c", "d", "e"])
      const consumer = yield* Consumer.make().pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0])
      yield* consumer.seek(t0, 0n)
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      yield* broker.setGate(Option.some(gate))
      yield* broker.onFetchStarted(Option.some(started))
      const fiber = yield* Effect.fork(take(consumer, 2))
      yield* Deferred.await(started)
      yield* broker.onFetchStarted(Option.none())
      yield* consumer.seek(t0, 3n)
      yield* broker.setGate(Option.none())
      yield* Deferred.succeed(gate, undefined)
      const got = yield* Fiber.join(fiber)
      expect(values(got)).toEqual(["0:d@3", "0:e@4"])
    }))

  it.scoped("pause stops fetching a partition, resume goes on from its position", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a", "b"])
      yield* broker.produce("t", 1, ["x", "y"])
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0, t1])
      yield* consumer.pause([t1])
      expect(yield* consumer.paused).toEqual([t1])
      const first = yield* take(consumer, 2)
      expect(values(first)).toEqual(["0:a@0", "0:b@1"])
      yield* consumer.resume([t1])
      const second = yield* take(consumer, 2)
      expect(values(second)).toEqual(["1:x@0", "1:y@1"])
      const fetches = (yield* broker.requests).filter((r) => r.api === "Fetch")
      expect(fetches[0]!.partitions).toEqual([TopicPartition.key(t0)])
    }))

  it.scoped("position resolves the pending seeks with one ListOffsets per spec", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a", "b", "c"])
      yield* broker.produce("t", 1, ["a"])
      const consumer = yield* Consumer.make().pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0, t1])
      yield* consumer.seekToBeginning()
      yield* consumer.seekToEnd([t0])
      expect(yield* consumer.position(t0)).toBe(3n)
      expect(yield* consumer.position(t1)).toBe(0n)
      expect((yield* broker.requests).map((r) => `${r.api}:${r.spec}:${r.partitions.join(",")}`).sort()).toEqual([
        `ListOffsets:earliest:${TopicPartition.key(t1)}`,
        `ListOffsets:latest:${TopicPartition.key(t0)}`,
      ])
      const e = yield* Effect.flip(consumer.position(TopicPartition.make("u", 0)))
      expect(e._tag).toBe("PartitionNotAssigned")
    }))

  it.scoped("autoOffsetReset=none: NoOffsetForPartition until the partition is sought", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a"])
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "none" } }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0])
      const e = yield* Effect.flip(take(consumer, 1))
      expect(e).toMatchObject({ _tag: "NoOffsetForPartition", topic: "t", partition: 0 })
      yield* consumer.seek(t0, 0n)
      expect(values(yield* take(consumer, 1))).toEqual(["0:a@0"])
    }))

  it.scoped("a partition error keeps its tag and does not cost other partitions their records", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a"])
      yield* broker.produce("t", 1, ["x"])
      yield* broker.failFetch(t1, new TopicAuthorizationFailed({ topic: "t", api: "Fetch" }), 1)
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0, t1])
      const delivered: Array<string> = []
      const e = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(`${r.partition}@${r.offset}`))),
        Effect.flip,
      )
      expect(delivered).toEqual(["0@0"])
      expect(e).toMatchObject({ _tag: "TopicAuthorizationFailed", topic: "t", api: "Fetch" })
    }))

  it.scoped("one leader unreachable (per-partition retriable FetchError): the others are delivered, its position is kept, it resumes when the fault clears, no busy loop", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const logs = yield* makeTestLogger
      yield* broker.produce("t", 0, ["a", "b"])
      yield* broker.produce("t", 1, ["x", "y"])
      const down = new FetchError({ partitions: [t1], reason: "Network", retriable: true, brokerId: 2 })
      yield* broker.failFetch(t1, down, 1_000_000)
      const consumer = yield* Consumer.make({ config: { maxWait: "1000 millis", retryBackoff: "100 millis", autoOffsetReset: "earliest" } }).pipe(
        Effect.provide(broker.layer),
      )
      yield* consumer.assign([t0, t1])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(`${r.partition}:${utf8(r.value)}@${r.offset}`))),
        Effect.provide(logs.layer),
        Effect.fork,
      )
      yield* TestClock.adjust("10 millis")
      expect(delivered).toEqual(["0:a@0", "0:b@1"])
      expect(yield* consumer.position(t1)).toBe(0n)
      // The unreachable partition answers at once: the loop backs off retryBackoff per cycle.
      yield* broker.clearRequests
      yield* TestClock.adjust("10 seconds")
      const fetches = (yield* broker.requests).filter((r) => r.api === "Fetch").length
      expect(fetches).toBeGreaterThanOrEqual(50)
      expect(fetches).toBeLessThanOrEqual(101)
      // Records produced to the healthy partition during the outage arrive during the outage.
      yield* broker.produce("t", 0, ["c"])
      yield* TestClock.adjust("200 millis")
      expect(delivered).toEqual(["0:a@0", "0:b@1", "0:c@2"])
      expect(yield* consumer.position(t1)).toBe(0n)
      expect(fiber.unsafePoll()).toBeNull()
      // The fault clears: t1 resumes from where it stood, nothing lost, nothing twice.
      yield* broker.failFetch(t1, down, 0)
      yield* TestClock.adjust("1 second")
      expect(delivered).toEqual(["0:a@0", "0:b@1", "0:c@2", "1:x@0", "1:y@1"])
      expect(yield* consumer.position(t1)).toBe(2n)
      const lines = yield* logs.lines
      const warnings = lines.filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.message).toContain("broker 2")
      expect(warnings[0]!.annotations).toMatchObject({ brokerId: "2", reason: "Network", partitions: "t-1" })
      expect(lines.filter((l) => l.level === "INFO" && l.message.includes("broker 2 works again"))).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a non-retriable per-partition FetchError fails the stream with its tag after the other partitions' records", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a"])
      yield* broker.produce("t", 1, ["x"])
      yield* broker.failFetch(t1, new FetchError({ partitions: [t1], reason: "Unknown", retriable: false, brokerId: 3 }), 1)
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0, t1])
      const delivered: Array<string> = []
      const e = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(`${r.partition}@${r.offset}`))),
        Effect.flip,
      )
      expect(delivered).toEqual(["0@0"])
      expect(e).toMatchObject({ _tag: "FetchError", reason: "Unknown", retriable: false, brokerId: 3 })
    }))

  it.scoped("idle: fetches long-poll for maxWaitMs on the Clock", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const consumer = yield* Consumer.make({ config: { maxWait: "1000 millis", autoOffsetReset: "earliest" } }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0])
      const fiber = yield* Effect.fork(take(consumer, 1))
      yield* TestClock.adjust("10 seconds")
      const fetches = (yield* broker.requests).filter((r) => r.api === "Fetch").length
      expect(fetches).toBeGreaterThanOrEqual(10)
      expect(fetches).toBeLessThanOrEqual(11)
      yield* broker.produce("t", 0, ["late"])
      yield* TestClock.adjust("1 second")
      expect(values(yield* Fiber.join(fiber))).toEqual(["0:late@0"])
    }))

  it("the type shows the policy: no OffsetOutOfRange under a healing recovery, OffsetOutOfRange under fail", () => {
    const program = Effect.gen(function* () {
      const healing = yield* Consumer.make()
      const strict = yield* Consumer.make({ recovery: OffsetRecovery.fail() })
      const h: Stream.Stream<ConsumerRecord, Consumer.ConsumerError> = healing.records
      // @ts-expect-error OffsetOutOfRange is in the error channel under `fail`
      const s: Stream.Stream<ConsumerRecord, Consumer.ConsumerError> = strict.records
      return [h, s]
    })
    expect(program).toBeDefined()
  })

  it.scoped("a retriable FetchError is retried on the fetchRetry schedule; a corrupt response fails at once", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("t", 0, ["a"])
      const network = new FetchError({ partitions: [t0], reason: "Network", retriable: true })
      yield* broker.failFetchRequests([network, network])
      const consumer = yield* Consumer.make({
        config: { autoOffsetReset: "earliest" },
        fetchRetry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(5))),
      }).pipe(Effect.provide(broker.layer))
      yield* consumer.assign([t0])
      const fiber = yield* Effect.fork(take(consumer, 1))
      yield* TestClock.adjust("1 second")
      expect(fiber.unsafePoll()).toBeNull()
      expect((yield* broker.requests).filter((r) => r.api === "Fetch").length).toBe(2)
      yield* TestClock.adjust("1 second")
      expect(values(yield* Fiber.join(fiber))).toEqual(["0:a@0"])
      // The third succeeded; the loop may have sent the next one ahead before the stream ended.
      const fetches = (yield* broker.requests).filter((r) => r.api === "Fetch").length
      expect(fetches === 3 || fetches === 4).toBe(true)

      yield* broker.failFetchRequests([new CorruptResponse({ api: "Fetch", reason: "bad crc" })])
      const e = yield* Effect.flip(take(consumer, 1))
      expect(e).toMatchObject({ _tag: "CorruptResponse", reason: "bad crc" })
    }))

  it.scoped("records and bytes are counted per topic, and lag is gauged per partition", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      yield* broker.produce("m", 0, ["abc", "de", "f", "g"])
      const records = ConsumerMetrics.forTopic(ConsumerMetrics.records, "m")
      const bytes = ConsumerMetrics.forTopic(ConsumerMetrics.bytes, "m")
      const before = [(yield* Metric.value(records)).count, (yield* Metric.value(bytes)).count]
      const consumer = yield* Consumer.make().pipe(Effect.provide(broker.layer))
      yield* consumer.assign([TopicPartition.make("m", 0)])
      yield* consumer.seek(TopicPartition.make("m", 0), 1n)
      yield* take(consumer, 3)
      expect((yield* Metric.value(records)).count - before[0]!).toBe(3)
      expect((yield* Metric.value(bytes)).count - before[1]!).toBe(4)
      const lag = yield* Metric.value(ConsumerMetrics.forPartition(ConsumerMetrics.lag, "m", 0))
      expect(lag.value).toBe(0n)
    }))

  it.scoped("Consumer.layer takes its recovery from the OffsetRecovery service", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const policy = yield* Effect.map(Consumer.Consumer, (c) => c.recoveryPolicy).pipe(
        Effect.provide(Consumer.layer().pipe(Layer.provide(Layer.merge(broker.layer, OffsetRecovery.layer("latest"))))),
      )
      expect(policy).toBe("latest")
      const byDefault = yield* Effect.map(Consumer.Consumer, (c) => c.recoveryPolicy).pipe(
        Effect.provide(Consumer.layer({ config: { offsetRecovery: "earliest" } }).pipe(Layer.provide(broker.layer))),
      )
      expect(byDefault).toBe("earliest")
    }))
})
