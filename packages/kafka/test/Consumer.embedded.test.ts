/**
 * core's `Consumer` over the live layer (`KafkaClient.layer`, kafkajs's protocol layer) and the
 * testkit's embedded wire broker: what librdkafka's mock cannot do, seen the way a user sees it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, type ConsumerRecord, ErrorCode, Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { BrokerModel, TestBroker, TestKit } from "@kafka-effect/testkit"
import { Chunk, Deferred, Effect, Fiber, Queue, Schedule, Stream } from "effect"
import * as KafkaClient from "../src/KafkaClient.js"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"
import * as Wait from "./harness/Wait.js"

const retrySchedule = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
const layer = EmbeddedClient.layer(3, { retrySchedule })

const seen = Wait.seen
const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean, tries = 300) => Wait.eventually(effect, done, tries)

describe("Consumer over the embedded wire broker (3 brokers)", () => {
  it.scopedLive(
    "the ports are KafkaClient's: ApiVersions and Metadata over TCP, each Fetch and ListOffsets addressed to the partition's leader",
    () =>
      Effect.gen(function* () {
        const client = yield* KafkaClient.KafkaClient
        const fetcher = yield* Fetcher.Fetcher
        const lister = yield* OffsetLister.OffsetLister
        expect(fetcher.fetch).toBe(client.fetch)
        expect(lister.list).toBe(client.listOffsets)

        const broker = yield* TestBroker.TestBroker
        const model = yield* BrokerModel.BrokerModel
        yield* broker.createTopic("wire", 3)
        const partitions = [0, 1, 2].map((p) => TopicPartition.make("wire", p))
        for (const tp of partitions) yield* broker.produce("wire", tp.partition, [{ value: `p${tp.partition}` }])
        const leaders = new Map<string, number>()
        for (const tp of partitions) leaders.set(TopicPartition.key(tp), (yield* model.partitionState(tp)).leader)
        // three partitions over three brokers: more than one leader is involved
        expect(new Set(leaders.values()).size).toBeGreaterThan(1)

        const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
        yield* consumer.assign(partitions)
        yield* consumer.seekToBeginning()
        const got = yield* consumer.records.pipe(Stream.take(3), Stream.runCollect)
        expect(seen(got).sort()).toEqual(["0@0=p0", "1@0=p1", "2@0=p2"])

        const log = yield* broker.requests
        const apis = new Set(log.map((e) => e.api))
        expect(apis.has("ApiVersions")).toBe(true)
        expect(apis.has("Metadata")).toBe(true)
        const data = log.filter((e) => e.api === "Fetch" || e.api === "ListOffsets")
        expect(data.some((e) => e.api === "Fetch")).toBe(true)
        expect(data.some((e) => e.api === "ListOffsets")).toBe(true)
        for (const e of data) {
          expect(e.brokerId).toBeDefined()
          for (const tp of e.partitions) expect([e.api, TopicPartition.format(tp), e.brokerId]).toEqual([e.api, TopicPartition.format(tp), leaders.get(TopicPartition.key(tp))])
        }
      }).pipe(Effect.provide(layer)),
    20_000,
  )

  it.scopedLive(
    "DeleteRecords moves the log start under a running consumer (its Fetch in flight): healed with the warning, no error, records from the new log start",
    () =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        const tp = TopicPartition.make("retention", 0)
        yield* broker.createTopic(tp.topic, 1)
        // ten batches of one record; maxPartitionBytes 1 makes each Fetch return one batch
        for (let i = 0; i < 10; i++) yield* broker.produce(tp.topic, 0, [{ value: `v${i}` }])

        const consumer = yield* Consumer.make({ config: { maxWait: "100 millis", maxPartitionBytes: 1 } })
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp])
        yield* consumer.seek(tp, 0n)

        const logs = yield* TestKit.makeLogCapture()
        const delivered = yield* Queue.unbounded<ConsumerRecord.ConsumerRecord>()
        const gate = yield* Deferred.make<void>()
        // The running consumer: one stream for the whole test; it holds on after offset 2 until the
        // test has slowed the broker's Fetch down, then goes on fetching.
        const running = yield* Effect.fork(
          consumer.records.pipe(
            Stream.runForEach((r) =>
              Effect.zipRight(Queue.offer(delivered, r), r.offset === 2n ? Deferred.await(gate) : Effect.void),
            ),
            Effect.provide(logs.layer),
          ),
        )
        const first = yield* Effect.map(Queue.takeBetween(delivered, 3, 3), Chunk.toReadonlyArray)
        expect(seen(first)).toEqual(["0@0=v0", "0@1=v1", "0@2=v2"])

        // The next Fetch (offset 3) is held at the broker for 500ms; the log is cut while it waits.
        yield* broker.setLatency("Fetch", "500 millis")
        yield* broker.clearRequests
        yield* Deferred.succeed(gate, undefined)
        const inFlight = yield* eventually(broker.requests, (log) => log.some((e) => e.api === "Fetch"))
        expect(inFlight.filter((e) => e.api === "Fetch").map((e) => e.partitions.map(TopicPartition.format))).toEqual([["retention-0"]])
        yield* broker.deleteRecords(tp, 7n)
        yield* broker.setLatency("Fetch", 0)

        const rest = yield* Effect.map(Queue.takeBetween(delivered, 3, 3), Chunk.toReadonlyArray)
        expect(seen(rest)).toEqual(["0@7=v7", "0@8=v8", "0@9=v9"])
        expect(yield* Queue.take(events)).toMatchObject({
          _tag: "OffsetReset",
          topic: "retention",
          partition: 0,
          requestedOffset: 3n,
          earliest: 7n,
          latest: 10n,
          newOffset: 7n,
          skipped: 4n,
          policy: "nearest",
        })
        const warnings = yield* logs.warnings
        expect(warnings).toHaveLength(1)
        expect(warnings[0]!.message).toBe("Offset out of range, resetting to 7 (retention-0: requested 3, log start 7, end 10, skipped 4)")
        expect(warnings[0]!.annotations).toMatchObject({
          topic: "retention",
          partition: 0,
          requestedOffset: "3",
          earliest: "7",
          latest: "10",
          newOffset: "7",
          skipped: "4",
        })

        // Over the wire: the held Fetch was answered OFFSET_OUT_OF_RANGE, then one ListOffsets round
        // trip, then a Fetch from the new log start.
        const log = (yield* broker.requests).filter((e) => e.api === "Fetch" || e.api === "ListOffsets")
        expect(log[0]).toMatchObject({ api: "Fetch", errors: [{ topic: "retention", partition: 0, code: ErrorCode.OFFSET_OUT_OF_RANGE }] })
        expect(log[0]!.brokerId).toBeDefined()
        const afterCut = log.slice(1)
        const nextFetch = afterCut.findIndex((e) => e.api === "Fetch")
        expect(nextFetch).toBeGreaterThanOrEqual(1)
        expect(nextFetch).toBeLessThanOrEqual(2)
        expect(afterCut.slice(0, nextFetch).every((e) => e.api === "ListOffsets")).toBe(true)

        // No error: the stream is still running and delivers what comes next.
        expect(running.unsafePoll()).toBeNull()
        yield* broker.produce(tp.topic, 0, [{ value: "v10" }])
        expect(seen([yield* Queue.take(delivered)])).toEqual(["0@10=v10"])
        expect(running.unsafePoll()).toBeNull()
        expect(yield* Queue.size(events)).toBe(0)
        yield* Fiber.interrupt(running)
      }).pipe(Effect.provide(layer)),
    20_000,
  )
})
