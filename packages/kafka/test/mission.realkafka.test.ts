/**
 * The mission's out-of-range cases on the suite's real Apache Kafka broker, through core's
 * `Consumer` over `KafkaClient.layer`, seen the way a user sees them: the records delivered, the
 * first offset after the heal, the warning and the `OffsetReset` event with their facts, and the
 * ListOffsets and Fetch calls the consumer made. Records are produced with kafkajs's producer; topics
 * and DeleteRecords go through kafkajs's admin.
 */
import { layer } from "@effect/vitest"
import { Consumer, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, ExecutionStrategy, Exit, Fiber, Layer, Queue, Scope, Stream } from "effect"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../src/group/GroupCoordinatorLive.js"
import * as KafkaClient from "../src/KafkaClient.js"
import { observedConsumer, seen, take, warningsLogger } from "./harness/Observed.js"
import * as Producer from "./harness/Producer.js"
import * as RealAdmin from "./harness/RealAdmin.js"
import * as RealKafka from "./harness/RealKafka.js"

const brokers = RealKafka.brokers()

const testLayer = Layer.mergeAll(
  KafkaClient.layer({ brokers }),
  GroupCoordinatorLive.layer({ brokers, requestTimeout: "15 seconds" }),
)

/** kafkajs's admin and producer on the shared broker, for the test's scope. */
const tools = Effect.all({ admin: RealAdmin.make(brokers), producer: Producer.make(brokers) })

const values = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}${from + i}`)

/** One produce request (one batch) per value, so that offsets are the values' positions. */
const produceEach = (producer: Producer.ProducerService, topic: string, partition: number, vs: ReadonlyArray<string>) =>
  Effect.forEach(vs, (value) => producer.send(topic, partition, [{ value }]), { discard: true })

const resetFacts = (topic: string, facts: { requestedOffset: bigint; earliest: bigint; latest: bigint; newOffset: bigint; skipped: bigint }) => ({
  _tag: "OffsetReset",
  topic,
  partition: 0,
  policy: "nearest",
  ...facts,
})

const annotationsOf = (topic: string, facts: Record<string, bigint>) => ({
  topic,
  partition: 0,
  ...Object.fromEntries(Object.entries(facts).map(([k, v]) => [k, String(v)])),
})

layer(testLayer, { excludeTestServices: true, timeout: "60 seconds" })("the mission's cases on real Apache Kafka", (it) => {
  it.scoped(
    "retention: DeleteRecords above the consumer's position; the next fetch resets to the new log start with the skipped count and delivers the record there",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = RealKafka.topicName("m-retention")
        const tp = TopicPartition.make(topic, 0)
        yield* admin.createTopic({ topic })
        yield* produceEach(producer, topic, 0, values("v", 3))
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis" } })
        const events = yield* consumer.subscribeEvents
        const log = warningsLogger()
        yield* consumer.assign([tp])
        yield* consumer.seek(tp, 0n)
        expect(seen(yield* take(consumer, 3))).toEqual(["0@0=v0", "0@1=v1", "0@2=v2"])
        expect(yield* consumer.position(tp)).toBe(3n)

        // Seven more records; then the log start moves from 0 to 7, past the consumer's position 3.
        yield* produceEach(producer, topic, 0, values("v", 7, 3))
        yield* admin.deleteRecords(topic, 0, 7n)
        calls.lists.length = 0
        calls.fetches.length = 0

        const next = yield* take(consumer, 3).pipe(Effect.provide(log.layer))
        expect(seen(next)).toEqual(["0@7=v7", "0@8=v8", "0@9=v9"])
        const facts = { requestedOffset: 3n, earliest: 7n, latest: 10n, newOffset: 7n, skipped: 4n }
        expect(Chunk.toReadonlyArray(yield* Queue.takeAll(events))).toEqual([expect.objectContaining(resetFacts(topic, facts))])
        expect(log.warnings).toHaveLength(1)
        expect(log.warnings[0]!.message).toBe(
          `Offset out of range, resetting to 7 (${topic}-0: requested 3, log start 7, end 10, skipped 4)`,
        )
        expect(log.warnings[0]!.annotations).toMatchObject(annotationsOf(topic, facts))
        // The heal: the Fetch at 3, one earliest/latest pair, then the Fetch at the new log start.
        expect(calls.fetches.slice(0, 2)).toEqual([[`${topic}-0@3`], [`${topic}-0@7`]])
        expect([...calls.lists].sort()).toEqual([`earliest:${topic}-0`, `latest:${topic}-0`])
      }),
    30_000,
  )

  it.scoped(
    "past the end, (a): a group's committed offset 50 on a recreated topic of 5 records; a member resumes there, resets to the end (5) with the warning and gets the new records",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = RealKafka.topicName("m-recreated")
        const groupId = RealKafka.topicName("m-recreated-group")
        const tp = TopicPartition.make(topic, 0)
        const groupOptions = {
          groupId,
          sessionTimeout: "10 seconds",
          rebalanceTimeout: "10 seconds",
          heartbeatInterval: "500 millis",
          autoCommit: false,
        } as const
        yield* admin.createTopic({ topic })
        yield* producer.send(topic, 0, values("old", 60).map((value) => ({ value })))

        // The first member consumes and processes 50 records and commits offset 50.
        const firstScope = yield* Scope.fork(yield* Scope.Scope, ExecutionStrategy.sequential)
        const first = yield* Consumer.make({ config: { maxWait: "100 millis", autoOffsetReset: "earliest" } }).pipe(Scope.extend(firstScope))
        const firstSub = yield* GroupConsumer.subscribe(first, [topic], groupOptions).pipe(Scope.extend(firstScope))
        const fifty = yield* firstSub.records.pipe(Stream.take(50), Stream.runCollect)
        yield* firstSub.markProcessed([...fifty])
        yield* firstSub.commit()
        const committed = (sub: GroupConsumer.GroupSubscription) =>
          Effect.map(sub.membership.committed([tp]), (cs) => cs[0]?.offset)
        expect(yield* committed(firstSub)).toBe(50n)

        // Real Kafka drops a group's committed offsets with the topic they belong to.
        yield* admin.deleteTopic(topic)
        yield* RealAdmin.eventually(
          "the committed offset to go with the topic",
          Effect.map(Effect.orDie(committed(firstSub)), (offset) => (offset === undefined ? true : undefined)),
        )
        yield* admin.createTopic({ topic })
        yield* producer.send(topic, 0, values("re", 5).map((value) => ({ value })))
        // The member, still in the group, commits its last processed record again, now onto the
        // new topic (what a member that lives through the recreation does at its next commit).
        yield* firstSub.commitRecord(fifty.pipe(Chunk.unsafeLast))
        expect(yield* committed(firstSub)).toBe(50n)
        yield* Scope.close(firstScope, Exit.void)

        // A member that joins now resumes from the committed 50, beyond the end (5).
        const log = warningsLogger()
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis", autoOffsetReset: "earliest" } })
        const events = yield* consumer.subscribeEvents
        const sub = yield* GroupConsumer.subscribe(consumer, [topic], groupOptions)
        const reader = yield* sub.records.pipe(Stream.take(2), Stream.runCollect, Effect.provide(log.layer), Effect.fork)
        const facts = { requestedOffset: 50n, earliest: 0n, latest: 5n, newOffset: 5n, skipped: 0n }
        expect(yield* Queue.take(events)).toEqual(expect.objectContaining(resetFacts(topic, facts)))
        expect(calls.fetches[0]).toEqual([`${topic}-0@50`])
        yield* producer.send(topic, 0, [{ value: "new5" }, { value: "new6" }])
        expect(seen(yield* Fiber.join(reader))).toEqual(["0@5=new5", "0@6=new6"])
        expect(log.warnings.map((w) => w.annotations)).toEqual([expect.objectContaining(annotationsOf(topic, facts))])
        // The committed offset resumed from, not autoOffsetReset: no ListOffsets before the first Fetch.
        expect([...calls.lists].sort()).toEqual([`earliest:${topic}-0`, `latest:${topic}-0`])
      }),
    30_000,
  )

  it.scoped(
    "past the end, (b): a seek beyond the high watermark resets to the end (3) with the warning, and the records produced next are delivered",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = RealKafka.topicName("m-seek-past")
        const tp = TopicPartition.make(topic, 0)
        yield* admin.createTopic({ topic })
        yield* produceEach(producer, topic, 0, values("v", 3))
        const log = warningsLogger()
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis" } })
        const events = yield* consumer.subscribeEvents
        yield* consumer.assign([tp])
        yield* consumer.seek(tp, 1000n)
        const reader = yield* take(consumer, 2).pipe(Effect.provide(log.layer), Effect.fork)
        // Produce only after the reset (a record produced before it would lie below the new position).
        const facts = { requestedOffset: 1000n, earliest: 0n, latest: 3n, newOffset: 3n, skipped: 0n }
        expect(yield* Queue.take(events)).toEqual(expect.objectContaining(resetFacts(topic, facts)))
        yield* produceEach(producer, topic, 0, ["new3", "new4"])
        expect(seen(yield* Fiber.join(reader))).toEqual(["0@3=new3", "0@4=new4"])
        expect(log.warnings).toHaveLength(1)
        expect(log.warnings[0]!.annotations).toMatchObject(annotationsOf(topic, facts))
        expect(calls.fetches.slice(0, 2)).toEqual([[`${topic}-0@1000`], [`${topic}-0@3`]])
        expect([...calls.lists].sort()).toEqual([`earliest:${topic}-0`, `latest:${topic}-0`])
      }),
    30_000,
  )

  it.scoped(
    "an empty topic: seekToBeginning and seekToEnd give 0 and 0; the consumer waits without looping (no ListOffsets, Fetches bounded by the long poll); the first record produced is delivered",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = RealKafka.topicName("m-empty")
        const tp = TopicPartition.make(topic, 0)
        yield* admin.createTopic({ topic })
        const maxWaitMs = 200
        const log = warningsLogger()
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: maxWaitMs } })
        yield* consumer.assign([tp])
        yield* consumer.seekToBeginning()
        expect(yield* consumer.position(tp)).toBe(0n)
        yield* consumer.seekToEnd([tp])
        expect(yield* consumer.position(tp)).toBe(0n)
        expect(calls.lists).toEqual([`earliest:${topic}-0`, `latest:${topic}-0`])

        const reader = yield* take(consumer, 1).pipe(Effect.provide(log.layer), Effect.fork)
        // Let it poll the empty partition for a while (at least five long polls).
        const started = Date.now()
        yield* RealAdmin.eventually("five fetches of the empty partition", Effect.sync(() => (calls.fetches.length >= 5 ? true : undefined)))
        yield* Effect.sleep(`${maxWaitMs} millis`)
        const fetches = calls.fetches.length
        const elapsed = Date.now() - started
        // Each Fetch of an empty partition is held by the broker for maxWaitMs: a loop would show
        // many more. No ListOffsets at all while waiting, every Fetch at offset 0.
        expect(fetches).toBeLessThanOrEqual(Math.ceil(elapsed / maxWaitMs) + 2)
        expect(calls.lists).toHaveLength(2)
        expect(new Set(calls.fetches.map((f) => f.join(",")))).toEqual(new Set([`${topic}-0@0`]))

        yield* produceEach(producer, topic, 0, ["first"])
        expect(seen(yield* Fiber.join(reader))).toEqual(["0@0=first"])
        expect(calls.lists).toHaveLength(2)
        expect(log.warnings).toEqual([])
      }),
    30_000,
  )
})
