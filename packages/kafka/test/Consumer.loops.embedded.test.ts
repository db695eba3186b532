/**
 * The consumer's fetch loops (one per leader) over the live layer (`KafkaClient`, kafkajs's
 * protocol layer) and the embedded wire broker with three brokers: an idle broker's long poll holds
 * no other broker's records, a leader move hands the partition to the new leader's loop, and a slow
 * consumer keeps the fetch buffer within its budget.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerMetrics, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { BrokerModel, EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Chunk, Effect, Fiber, Metric, Schedule, Stream } from "effect"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
const layer = EmbeddedClient.layer(3, { retrySchedule })

const seen = (records: Iterable<ConsumerRecord.ConsumerRecord>) =>
  [...records].map((r) => `${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)

/** Polls `effect` every 10ms until `done` holds; dies after `tries` polls. */
const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean, tries = 500) =>
  Effect.gen(function* () {
    for (let i = 0; i < tries; i++) {
      const a = yield* effect
      if (done(a)) return a
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`still not there after ${tries} polls`)
  })

/** Creates `topic` with three partitions and returns them with their leaders (three different brokers). */
const threeLeaders = (topic: string) =>
  Effect.gen(function* () {
    const broker = yield* TestBroker.TestBroker
    const model = yield* BrokerModel.BrokerModel
    yield* broker.createTopic(topic, 3)
    const partitions = [0, 1, 2].map((p) => TopicPartition.make(topic, p))
    const leaders: Array<number> = []
    for (const tp of partitions) leaders.push((yield* model.partitionState(tp)).leader)
    expect(new Set(leaders).size).toBe(3)
    return { partitions, leaders }
  })

describe("Consumer fetch loops over the embedded wire broker (3 brokers)", () => {
  it.scopedLive(
    "records of one broker arrive while the two idle brokers are still in their first long poll",
    () =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        const { partitions, leaders } = yield* threeLeaders("idle")
        // A long poll longer than the rest of this test takes: a lock-step cycle over all leaders
        // would deliver nothing before it ends, and the idle brokers would be asked again.
        const consumer = yield* Consumer.make({ config: { maxWait: "8 seconds", autoOffsetReset: "earliest" } })
        yield* consumer.assign(partitions)
        const delivered: Array<string> = []
        const fiber = yield* consumer.records.pipe(
          Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
          Effect.fork,
        )
        const fetchesTo = (brokerId: number) =>
          Effect.map(broker.requests, (log) => log.filter((e) => e.api === "Fetch" && e.brokerId === brokerId).length)
        // every loop is long-polling its broker
        yield* eventually(Effect.all(leaders.map(fetchesTo)), (n) => n.every((c) => c >= 1))
        yield* broker.produce("idle", 1, [{ value: "hot0" }, { value: "hot1" }])
        yield* eventually(Effect.sync(() => delivered.length), (n) => n === 2)
        expect(delivered).toEqual(["1@0=hot0", "1@1=hot1"])
        // the hot broker is asked again as soon as its answer is buffered, while the idle brokers
        // are still in their first Fetch
        yield* eventually(fetchesTo(leaders[1]!), (n) => n >= 2, 300)
        expect(yield* fetchesTo(leaders[0]!)).toBe(1)
        expect(yield* fetchesTo(leaders[2]!)).toBe(1)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer)),
    30_000,
  )

  it.scopedLive(
    "a leader move: the old leader answers NOT_LEADER, the partition moves to the new leader's loop, nothing lost or twice",
    () =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        const embedded = yield* EmbeddedBroker.EmbeddedBroker
        const { partitions, leaders } = yield* threeLeaders("moved")
        yield* broker.produce("moved", 0, [{ value: "a0" }, { value: "a1" }])
        const consumer = yield* Consumer.make({ config: { maxWait: "200 millis", autoOffsetReset: "earliest", retryBackoff: "20 millis" } })
        yield* consumer.assign(partitions)
        const delivered: Array<string> = []
        const fiber = yield* consumer.records.pipe(
          Stream.runForEach((r) => Effect.sync(() => delivered.push(...seen([r])))),
          Effect.fork,
        )
        yield* eventually(Effect.sync(() => delivered.length), (n) => n === 2)
        const target = leaders[1]!
        yield* embedded.moveLeader(partitions[0]!, target)
        yield* broker.clearRequests
        yield* broker.produce("moved", 0, [{ value: "a2" }, { value: "a3" }])
        yield* eventually(Effect.sync(() => delivered.length), (n) => n >= 4)
        expect(delivered).toEqual(["0@0=a0", "0@1=a1", "0@2=a2", "0@3=a3"])
        // The new leader's loop takes the partition over: one Fetch to it for both partitions it
        // leads now (the client alone would only route the old loop's requests there; the
        // consumer's periodic look at the leaders comes later than this wait).
        const both = (e: { readonly api: string; readonly brokerId?: number; readonly partitions: ReadonlyArray<TopicPartition.TopicPartition> }) =>
          e.api === "Fetch" && e.brokerId === target && e.partitions.map(TopicPartition.format).sort().join() === "moved-0,moved-1"
        yield* eventually(broker.requests, (log) => log.some(both), 300)
        yield* broker.clearRequests
        yield* broker.produce("moved", 0, [{ value: "a4" }])
        yield* eventually(Effect.sync(() => delivered.length), (n) => n >= 5)
        expect(delivered).toEqual(["0@0=a0", "0@1=a1", "0@2=a2", "0@3=a3", "0@4=a4"])
        // the old leader is no longer asked for it
        const old = (yield* broker.requests).filter((e) => e.api === "Fetch" && e.brokerId === leaders[0])
        expect(old.filter((e) => e.partitions.some((tp) => TopicPartition.equals(tp, partitions[0]!)))).toEqual([])
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer)),
    30_000,
  )

  it.scopedLive(
    "a slow consumer: the buffer stays within fetchBufferBytes plus one answer, and every record arrives once, in order",
    () =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        const { partitions } = yield* threeLeaders("slow")
        const value = "v".repeat(200)
        // one batch per record: a broker sends whole batches, so an answer is at most one batch over its limit
        for (const tp of partitions) for (let i = 0; i < 20; i++) yield* broker.produce("slow", tp.partition, [{ value }])
        const budget = 2_000
        const maxPartitionBytes = 500
        // One loop's answer (one partition): batches up to the 500-byte limit, the last one whole,
        // each record counted as its value and 16 bytes.
        const oneAnswer = 3 * (200 + 16)
        const consumer = yield* Consumer.make({
          config: { maxWait: "100 millis", autoOffsetReset: "earliest", fetchBufferBytes: budget, maxPartitionBytes },
        })
        yield* consumer.assign(partitions)
        const pull = yield* Stream.toPull(consumer.chunks)
        const offsets = new Map<number, Array<bigint>>(partitions.map((tp) => [tp.partition, []]))
        let highest = 0
        let total = 0
        while (total < 60) {
          const chunk = Chunk.flatten(yield* pull)
          for (const r of chunk) offsets.get(r.partition)!.push(r.offset)
          total += chunk.length
          // the user is slow: the loops have time to fill the buffer before the next pull
          yield* Effect.sleep("20 millis")
          const buffered = (yield* Metric.value(ConsumerMetrics.fetchBufferBytes)).value
          highest = Math.max(highest, buffered)
          expect(buffered).toBeLessThanOrEqual(budget + oneAnswer)
        }
        // the loops fetched ahead of the user up to the budget
        expect(highest).toBeGreaterThanOrEqual(budget / 2)
        const expected = Array.from({ length: 20 }, (_, i) => BigInt(i))
        for (const tp of partitions) expect(offsets.get(tp.partition)).toEqual(expected)
      }).pipe(Effect.provide(layer)),
    30_000,
  )
})
