/**
 * The mission case "ListOffsets failing on the network during recovery", on real Apache Kafka (the
 * suite's shared node): a consumer over `KafkaClient` reaches the broker through the testkit's
 * `FaultProxy`; DeleteRecords (kafkajs's admin, straight to the broker) moves the log start past
 * the consumer's position; the proxy closes the connection of the ListOffsets requests that would
 * heal it. The failure is a `ListOffsetsError` retried on the user's Schedule; once the schedule
 * is exhausted the stream fails with it, carrying the out-of-range facts.
 *
 * A healing attempt is one round trip of two ListOffsets requests (earliest and latest: Kafka
 * refuses one request naming the partition twice), sent together. The proxy closes the connection
 * of the earliest one; the latest one may die with it or go out on a new connection, so the attempts
 * are counted as closed earliest requests: exactly one per attempt.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, type ConsumerEvent, ConsumerRecord, OffsetRecovery, TopicPartition } from "@kafka-effect/core"
import { FaultProxy, TestKit } from "@kafka-effect/testkit"
import { Chunk, Effect, Layer, Queue, Ref, Schedule, Stream } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"
import * as RealKafka from "./harness/RealKafka.js"

const RETRY_DELAY = "150 millis"
const EARLIEST = -2n
const LATEST = -1n

/** The proxy, a KafkaClient behind it, kafkajs's admin and our Producer straight to the broker, and a topic. */
const setup = Effect.gen(function* () {
  const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
  const client = yield* Effect.orDie(Layer.build(KafkaClient.layer({ brokers: proxy.brokers, requestTimeout: "5 seconds" })))
  const kafka = new Kafka({ brokers: [...RealKafka.brokers()], clientId: "recovery-network", logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  yield* Effect.acquireRelease(
    Effect.promise(() => admin.connect()),
    () => Effect.promise(() => admin.disconnect()),
  )
  const producer = yield* Effect.orDie(Producer.make({ brokers: RealKafka.brokers(), clientId: "recovery-network" }))
  const topic = RealKafka.topicName("recovery-network")
  yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }))
  const tp = TopicPartition.make(topic, 0)
  const produce = (values: ReadonlyArray<string>) =>
    Effect.orDie(producer.send(topic, values.map((value) => ({ value, partition: 0 }))))
  const deleteBefore = (offset: bigint) =>
    Effect.promise(async () => {
      await admin.fetchTopicMetadata({ topics: [topic] })
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(offset) }] })
    })
  const logStart = Effect.map(
    Effect.promise(() => admin.fetchTopicOffsets(topic)),
    (o) => BigInt(o[0]!.low),
  )
  return { proxy, client, topic, tp, produce, deleteBefore, logStart }
})

const take = (consumer: { readonly records: Stream.Stream<ConsumerRecord.ConsumerRecord, unknown> }, n: number) =>
  consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

const shown = (records: ReadonlyArray<ConsumerRecord.ConsumerRecord>) =>
  records.map((r) => `${r.offset}=${ConsumerRecord.utf8(r.value)}`)

/** The user's schedule, counting how often it was asked to retry. */
const countingSchedule = (recurs: number, asked: Ref.Ref<number>): OffsetRecovery.ListOffsetsRetry =>
  Schedule.spaced(RETRY_DELAY).pipe(
    Schedule.intersect(Schedule.recurs(recurs)),
    Schedule.tapInput(() => Ref.update(asked, (n) => n + 1)),
  )

describe("ListOffsets failing on the network during recovery, on real Kafka", () => {
  it.scopedLive(
    "closed 3 times: retried on the user's schedule, then reset to the new log start and the next records delivered",
    () =>
      Effect.gen(function* () {
        const { proxy, client, topic, tp, produce, deleteBefore, logStart } = yield* setup
        yield* Effect.gen(function* () {
          yield* produce(["v0", "v1", "v2"])
          const asked = yield* Ref.make(0)
          const consumer = yield* Consumer.make({
            config: { maxWait: "100 millis" },
            recovery: OffsetRecovery.nearest({ listOffsetsRetry: countingSchedule(5, asked) }),
          })
          const events = yield* consumer.subscribeEvents
          yield* consumer.assign([tp])
          yield* consumer.seek(tp, 0n)
          expect(shown(yield* take(consumer, 3))).toEqual(["0=v0", "1=v1", "2=v2"])

          // retention moves the log start past the consumer (at 3)
          yield* produce(["v3", "v4", "v5", "v6", "v7", "v8", "v9"])
          yield* deleteBefore(6n)
          expect(yield* logStart).toBe(6n)
          yield* proxy.closeNext("ListOffsets", 3, { partitions: [tp], timestamp: EARLIEST })
          yield* proxy.clearRequests

          const [rest, logs] = yield* TestKit.captureLogs(take(consumer, 4))
          expect(shown(rest)).toEqual(["6=v6", "7=v7", "8=v8", "9=v9"])
          expect(yield* consumer.position(tp)).toBe(10n)

          // what the user is told: one OffsetReset event and one warning with the same facts
          const event: ConsumerEvent.ConsumerEvent = yield* Queue.take(events)
          expect(event).toMatchObject({
            _tag: "OffsetReset",
            topic,
            partition: 0,
            requestedOffset: 3n,
            earliest: 6n,
            latest: 10n,
            newOffset: 6n,
            skipped: 3n,
            policy: "nearest",
          })
          expect(yield* Queue.size(events)).toBe(0)
          const warnings = logs.filter((l) => l.level === "WARN" && l.message.startsWith("Offset out of range"))
          expect(warnings).toHaveLength(1)
          expect(warnings[0]!.annotations).toMatchObject({
            topic,
            partition: 0,
            requestedOffset: "3",
            earliest: "6",
            latest: "10",
            newOffset: "6",
            skipped: "3",
          })

          // what went over the wire: the Fetch at 3 answered OFFSET_OUT_OF_RANGE by Kafka, three
          // attempts whose earliest ListOffsets lost its connection, a fourth answered, then Fetch
          const log = (yield* proxy.requests).filter(
            (e) => (e.api === "Fetch" || e.api === "ListOffsets") && e.partitions.some((p) => p.topic === topic),
          )
          const firstList = log.findIndex((e) => e.api === "ListOffsets")
          expect(log.slice(0, firstList).map((e) => [e.api, e.errors?.[0]?.code])).toEqual([["Fetch", 1]])
          const earliest = log.filter((e) => e.api === "ListOffsets" && e.timestamps?.includes(EARLIEST))
          expect(earliest.map((e) => e.outcome)).toEqual(["closed", "closed", "closed", "forwarded"])
          expect(new Set(earliest.map((e) => e.connection)).size).toBe(4)
          const healing = earliest[3]!
          expect(healing.errors).toBeUndefined()
          expect(healing.answeredAt).toBeDefined()
          // the user's schedule decided every retry: asked once per failed attempt, each after its delay
          expect(yield* Ref.get(asked)).toBe(3)
          for (let i = 1; i < earliest.length; i++) {
            expect(earliest[i]!.at - earliest[i - 1]!.at).toBeGreaterThanOrEqual(150)
          }
          // the healing round trip's latest request (sent with it, in either order) was answered too
          const latest = log.filter((e) => e.api === "ListOffsets" && e.timestamps?.includes(LATEST))
          const healingLatest = latest[latest.length - 1]
          expect(healingLatest).toMatchObject({ outcome: "forwarded" })
          expect(healingLatest!.errors).toBeUndefined()
          // and then the next Fetch went out, answered without error
          const lastList = Math.max(log.indexOf(healing), log.indexOf(healingLatest!))
          expect(log[lastList + 1]?.api).toBe("Fetch")
          expect(log[lastList + 1]?.errors).toBeUndefined()
        }).pipe(Effect.provide(client))
      }),
    60_000,
  )

  it.scopedLive(
    "closed on every attempt: the exhausted schedule fails the stream with ListOffsetsError carrying the out-of-range facts",
    () =>
      Effect.gen(function* () {
        const { proxy, client, topic, tp, produce, deleteBefore } = yield* setup
        yield* Effect.gen(function* () {
          yield* produce(["v0", "v1", "v2", "v3", "v4"])
          yield* deleteBefore(4n)
          const asked = yield* Ref.make(0)
          const consumer = yield* Consumer.make({
            config: { maxWait: "100 millis" },
            recovery: OffsetRecovery.nearest({ listOffsetsRetry: countingSchedule(2, asked) }),
          })
          const events = yield* consumer.subscribeEvents
          yield* consumer.assign([tp])
          // a position below the log start, as a committed offset from before the retention
          yield* consumer.seek(tp, 1n)
          yield* proxy.closeNext("ListOffsets", Number.POSITIVE_INFINITY, { partitions: [tp], timestamp: EARLIEST })
          yield* proxy.clearRequests

          const error = yield* Effect.flip(take(consumer, 1))
          expect(error).toMatchObject({
            _tag: "ListOffsetsError",
            reason: "Network",
            retriable: true,
            partitions: [tp],
            outOfRange: { _tag: "OffsetOutOfRange", topic, partition: 0, requestedOffset: 1n },
          })
          expect(yield* Queue.size(events)).toBe(0)
          // no reset happened: the position is where the user put it
          expect(yield* consumer.position(tp)).toBe(1n)
          // the first attempt and the schedule's two retries, each losing its earliest request's connection
          const earliest = (yield* proxy.requests).filter((e) => e.api === "ListOffsets" && e.timestamps?.includes(EARLIEST))
          expect(earliest.map((e) => e.outcome)).toEqual(["closed", "closed", "closed"])
          expect(yield* Ref.get(asked)).toBe(3)
        }).pipe(Effect.provide(client))
      }),
    60_000,
  )
})
