/**
 * The consumer's fetch loops (one per leader) over the in-memory broker with several brokers, on
 * TestClock: an idle leader's long poll holds no other leader back, the buffer stays within its
 * budget under a slow consumer, a seek/pause/revoke drops what was buffered or in flight, and a
 * leader move hands the partition to the new leader's loop.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerMetrics, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, FastCheck as fc, Fiber, Metric, Option, Schedule, Stream, TestClock } from "effect"

import { BrokerModel, TestBroker, TestKit } from "../src/index.js"

const tp = (partition: number) => TopicPartition.make("t", partition)

const settle = Effect.repeatN(Effect.yieldNow(), 20)

const seen = (records: Iterable<ConsumerRecord.ConsumerRecord>) =>
  [...records].map((r) => `${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)

const valuesOf = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${from + i}` }))

describe("fetch loops over the in-memory broker (TestClock)", () => {
  it.scoped("an idle leader's long poll does not hold back another leader's records", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      // partition 0 is led by broker 0, partition 1 by broker 1
      expect((yield* broker.partitionState(tp(0))).logStartOffset).toBe(0n)
      const model = yield* BrokerModel.BrokerModel
      expect([(yield* model.partitionState(tp(0))).leader, (yield* model.partitionState(tp(1))).leader]).toEqual([0, 1])
      const consumer = yield* Consumer.make({ config: { maxWait: "10 seconds", autoOffsetReset: "earliest" } })
      yield* consumer.assign([tp(0), tp(1)])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
        Effect.fork,
      )
      yield* settle
      // Both loops are long-polling now; data arrives for partition 1 only, the clock stands still.
      yield* broker.produce("t", 1, valuesOf("b", 2))
      yield* settle
      expect(delivered).toEqual(["1@0=b0", "1@1=b1"])
      const fetches = (yield* broker.requests).filter((e) => e.api === "Fetch")
      // one fetch per broker, each naming only the partition it leads
      expect(new Set(fetches.map((e) => `${e.brokerId}:${e.partitions.map(TopicPartition.format).join(",")}`))).toEqual(
        new Set(["0:t-0", "1:t-1"]),
      )
      yield* broker.produce("t", 0, valuesOf("a", 1))
      yield* settle
      expect(delivered).toEqual(["1@0=b0", "1@1=b1", "0@0=a0"])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
  )

  it.scoped("with a slow consumer the buffer holds at most its budget plus one answer, and everything arrives once, in order", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const budget = 1_000
      const value = "x".repeat(100)
      for (const p of [0, 1]) yield* broker.produce("t", p, Array.from({ length: 60 }, () => ({ value })))
      // An answer holds at most 2 records of 100 bytes per partition (the limit is soft for the first one).
      const maxPartitionBytes = 200
      const recordCounted = 100 + 16
      const oneAnswer = 2 * 3 * recordCounted
      const consumer = yield* Consumer.make({
        config: { maxWait: "1 second", autoOffsetReset: "earliest", fetchBufferBytes: budget, maxPartitionBytes },
      })
      yield* consumer.assign([tp(0), tp(1)])
      const pull = yield* Stream.toPull(consumer.chunks)
      const gauge = ConsumerMetrics.fetchBufferBytes
      const offsets = new Map<number, Array<bigint>>([[0, []], [1, []]])
      let highest = 0
      let total = 0
      while (total < 120) {
        const chunk = yield* pull
        for (const records of chunk) {
          for (const r of records) offsets.get(r.partition)!.push(r.offset)
          total += records.length
        }
        // The user is slow: the loops get every chance to fill the buffer before the next pull.
        yield* settle
        yield* TestClock.adjust("10 millis")
        yield* settle
        const buffered = (yield* Metric.value(gauge)).value
        highest = Math.max(highest, buffered)
        expect(buffered).toBeLessThanOrEqual(budget + oneAnswer)
      }
      // The buffer did fill up (fetches went out ahead of the user) ...
      expect(highest).toBeGreaterThanOrEqual(budget - oneAnswer)
      // ... and nothing was lost or delivered twice.
      const expected = Array.from({ length: 60 }, (_, i) => BigInt(i))
      expect(offsets.get(0)).toEqual(expected)
      expect(offsets.get(1)).toEqual(expected)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
  )

  it.scoped("a seek while a fetch is in flight and records are buffered: nothing from before the seek is delivered after it", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.produce("t", 0, valuesOf("a", 10))
      const consumer = yield* Consumer.make({
        config: { maxWait: "1 second", autoOffsetReset: "earliest", maxPartitionBytes: 2, fetchBufferBytes: 1_000 },
      })
      yield* consumer.assign([tp(0)])
      const pull = yield* Stream.toPull(consumer.chunks)
      const first = Chunk.flatten(yield* pull)
      expect(seen(first)).toEqual(["0@0=a0"])
      // The loop fetched ahead (one record an answer); now every fetch takes a second.
      yield* settle
      yield* broker.setLatency("Fetch", "1 second")
      yield* settle
      expect((yield* consumer.position(tp(0)))).toBe(1n)
      yield* consumer.seek(tp(0), 7n)
      yield* TestClock.adjust("1 second")
      yield* settle
      const after: Array<string> = []
      while (after.length < 3) {
        const next = yield* Effect.fork(pull)
        yield* settle
        yield* TestClock.adjust("1 second")
        after.push(...seen(Chunk.flatten(yield* Fiber.join(next))))
      }
      expect(after).toEqual(["0@7=a7", "0@8=a8", "0@9=a9"])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.scoped("a pause while a fetch is in flight drops its answer; resume goes on from the delivered position", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.produce("t", 0, valuesOf("a", 3))
      yield* broker.produce("t", 1, valuesOf("b", 3))
      yield* broker.setLatency("Fetch", "1 second")
      const consumer = yield* Consumer.make({ config: { maxWait: "1 second", autoOffsetReset: "earliest" } })
      yield* consumer.assign([tp(0), tp(1)])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
        Effect.fork,
      )
      yield* settle
      // both fetches are in flight; partition 0 is paused before they answer
      yield* consumer.pause([tp(0)])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(delivered).toEqual(["1@0=b0", "1@1=b1", "1@2=b2"])
      expect(yield* consumer.position(tp(0))).toBe(0n)
      yield* consumer.resume([tp(0)])
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(delivered).toEqual(["1@0=b0", "1@1=b1", "1@2=b2", "0@0=a0", "0@1=a1", "0@2=a2"])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
  )

  it.scoped("a revoke while a fetch is in flight drops its answer; the partition's records never reach the stream", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.produce("t", 0, valuesOf("a", 3))
      yield* broker.setLatency("Fetch", "1 second")
      const consumer = yield* Consumer.make({ config: { maxWait: "1 second", autoOffsetReset: "earliest" } })
      yield* consumer.assign([tp(0), tp(1)])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
        Effect.fork,
      )
      yield* settle
      yield* consumer.state.revokePartitions([tp(0)])
      yield* broker.produce("t", 1, valuesOf("b", 1))
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(delivered).toEqual(["1@0=b0"])
      expect(yield* consumer.assignment).toEqual([tp(1)])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
  )

  it.scoped("a leader move hands the partition to the new leader's loop: nothing lost, nothing twice", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const model = yield* BrokerModel.BrokerModel
      yield* broker.produce("t", 0, valuesOf("a", 2))
      const consumer = yield* Consumer.make({ config: { maxWait: "1 second", autoOffsetReset: "earliest", retryBackoff: "100 millis" } })
      yield* consumer.assign([tp(0), tp(1)])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
        Effect.fork,
      )
      yield* settle
      expect(delivered).toEqual(["0@0=a0", "0@1=a1"])
      yield* model.moveLeader(tp(0), 1)
      yield* broker.clearRequests
      yield* broker.produce("t", 0, valuesOf("a", 2, 2))
      for (let i = 0; i < 30 && delivered.length < 4; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle
      }
      expect(delivered).toEqual(["0@0=a0", "0@1=a1", "0@2=a2", "0@3=a3"])
      const fetches = (yield* broker.requests).filter((e) => e.api === "Fetch")
      // broker 0 said NOT_LEADER (or was still long-polling); broker 1 now fetches both partitions
      const last = fetches.filter((e) => e.brokerId === 1).at(-1)
      expect(Option.fromNullable(last).pipe(Option.map((e) => e.partitions.map(TopicPartition.format).sort()))).toEqual(
        Option.some(["t-0", "t-1"]),
      )
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
  )

  it.scoped("a cluster that is down: fetchRetry bounds the retries, then the stream fails with the FetchError; one warning, then a summary at most every 30 s", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const logs = yield* TestKit.makeLogCapture({ quiet: true })
      yield* broker.failNext("Fetch", Number.POSITIVE_INFINITY, { _tag: "Network" })
      const consumer = yield* Consumer.make({
        config: { maxWait: "1 second", autoOffsetReset: "earliest" },
        fetchRetry: Schedule.spaced("10 seconds").pipe(Schedule.intersect(Schedule.recurs(8))),
      })
      yield* consumer.assign([tp(0)])
      const fiber = yield* consumer.records.pipe(Stream.runDrain, Effect.provide(logs.layer), Effect.either, Effect.fork)
      yield* TestKit.advance("100 seconds", { step: "1 second" })
      const result = yield* Fiber.join(fiber)
      expect(result._tag).toBe("Left")
      expect(result._tag === "Left" ? result.left : undefined).toMatchObject({ _tag: "FetchError", reason: "Network", retriable: true })
      // the first attempt and the schedule's 8 retries, 10 s apart
      expect((yield* broker.requests).filter((e) => e.api === "Fetch").length).toBe(9)
      // failures at 0, 10, …, 80 s: the first warning, summaries at 30 and 60 s
      const warnings = yield* logs.warnings
      expect(warnings.map((w) => w.message.split(" (")[0])).toEqual([
        "Fetch from broker 0 failed",
        "Fetch from broker 0 still failing",
        "Fetch from broker 0 still failing",
      ])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.scoped("one broker down while the other answers: its partitions are retried beyond fetchRetry, the other's records keep flowing, and it resumes when it is back", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const model = yield* BrokerModel.BrokerModel
      const logs = yield* TestKit.makeLogCapture({ quiet: true })
      yield* broker.produce("t", 1, valuesOf("b", 2))
      // every request touching partition 1 (led by broker 1) fails
      yield* broker.failNext("Fetch", Number.POSITIVE_INFINITY, { _tag: "Network" }, [tp(1)])
      const consumer = yield* Consumer.make({
        config: { maxWait: "1 second", autoOffsetReset: "earliest", retryBackoff: "100 millis" },
        // would end the stream within 2 s if it applied to one broker's outage
        fetchRetry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))),
      })
      yield* consumer.assign([tp(0), tp(1)])
      const delivered: Array<string> = []
      const fiber = yield* consumer.records.pipe(
        Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
        Effect.provide(logs.layer),
        Effect.fork,
      )
      yield* TestKit.advance("30 seconds", { step: "500 millis" })
      yield* broker.produce("t", 0, valuesOf("a", 2))
      yield* TestKit.advance("90 seconds", { step: "500 millis" })
      expect(fiber.unsafePoll()).toBeNull()
      expect(delivered).toEqual(["0@0=a0", "0@1=a1"])
      const tries = (yield* broker.requests).filter((e) => e.api === "Fetch" && e.brokerId === 1).length
      // backoff from 100 ms doubling to 2 s: about one try every 2 s, never a busy loop
      expect(tries).toBeGreaterThanOrEqual(40)
      expect(tries).toBeLessThanOrEqual(80)
      yield* model.clearFaults
      yield* TestKit.advance("3 seconds", { step: "500 millis" })
      expect(delivered).toEqual(["0@0=a0", "0@1=a1", "1@0=b0", "1@1=b1"])
      const lines = yield* logs.logs
      const warnings = lines.filter((l) => l.level === "WARN").map((w) => w.message.split(" (")[0])
      // one warning when it started, a summary at most every 30 s of the 120 s
      expect(warnings[0]).toBe("Fetch from broker 1 failed")
      expect(warnings.slice(1).every((w) => w === "Fetch from broker 1 still failing")).toBe(true)
      expect(warnings.length).toBeGreaterThanOrEqual(4)
      expect(warnings.length).toBeLessThanOrEqual(5)
      expect(lines.filter((l) => l.level === "INFO" && l.message === "Fetch from broker 1 works again")).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
    30_000,
  )

  it.scoped.prop(
    "property: any script of seeks, pauses and resumes over slow fetches of two brokers: per partition the offsets from the last seek on, once each, in order, and all of them in the end",
    [
      fc.integer({ min: 0, max: 300 }),
      fc.array(
        fc.record({
          wait: fc.integer({ min: 0, max: 400 }),
          action: fc.oneof(
            fc.record({ _tag: fc.constant("Seek" as const), p: fc.integer({ min: 0, max: 1 }), offset: fc.integer({ min: 0, max: 29 }) }),
            fc.record({ _tag: fc.constant("Pause" as const), p: fc.integer({ min: 0, max: 1 }) }),
            fc.record({ _tag: fc.constant("Resume" as const), p: fc.integer({ min: 0, max: 1 }) }),
            fc.record({ _tag: fc.constant("None" as const) }),
          ),
        }),
        { maxLength: 12 },
      ),
    ],
    ([latency, script]) =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        for (const p of [0, 1]) for (let i = 0; i < 30; i++) yield* broker.produce("t", p, valuesOf(`${p}-`, 1, i))
        if (latency > 0) yield* broker.setLatency("Fetch", `${latency} millis`)
        const consumer = yield* Consumer.make({
          config: { maxWait: "200 millis", autoOffsetReset: "earliest", maxPartitionBytes: 12, fetchBufferBytes: 200 },
        })
        yield* consumer.assign([tp(0), tp(1)])
        const next = [0n, 0n]
        const problems: Array<string> = []
        // Checked per chunk when it is handed downstream (a chunk handed over before a seek is the
        // user's, as a Java poll()'s records are); a slow user (on the TestClock), so the loops fetch
        // ahead and the buffer holds records when a seek or a pause comes.
        const fiber = yield* consumer.chunks.pipe(
          Stream.runForEach((chunk) =>
            Effect.zipLeft(
              Effect.sync(() => {
                for (const r of chunk) {
                  if (r.offset !== next[r.partition]) problems.push(`${r.partition}@${r.offset} where ${next[r.partition]} was next`)
                  next[r.partition] = r.offset + 1n
                }
              }),
              Effect.sleep(`${20 * Chunk.size(chunk)} millis`),
            ),
          ),
          Effect.fork,
        )
        for (const step of script) {
          yield* TestKit.advance(`${step.wait} millis`, { step: "50 millis" })
          const a = step.action
          if (a._tag === "Seek") {
            yield* consumer.seek(tp(a.p), BigInt(a.offset))
            next[a.p] = BigInt(a.offset)
          } else if (a._tag === "Pause") yield* consumer.pause([tp(a.p)])
          else if (a._tag === "Resume") yield* consumer.resume([tp(a.p)])
        }
        yield* consumer.resume([tp(0), tp(1)])
        yield* TestKit.advance("10 seconds", { step: "250 millis" })
        expect(problems).toEqual([])
        expect(next).toEqual([30n, 30n])
        expect([yield* consumer.position(tp(0)), yield* consumer.position(tp(1))]).toEqual([30n, 30n])
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(TestBroker.layer({ brokers: 2, topics: { t: 2 } }))),
    { fastCheck: { numRuns: 8 }, timeout: 60_000 },
  )
})
