/**
 * kafkajs 2.2.4 (a client nobody here wrote) against the embedded broker: admin, producer,
 * consumer groups, and the control API (faults, leader moves, compaction, DeleteRecords) acting on
 * what kafkajs sees over the wire.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Deferred, Effect, Fiber } from "effect"
import { CompressionTypes, type EachMessagePayload } from "kafkajs"
import * as BrokerModel from "../../src/BrokerModel.js"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker } from "../../src/TestBroker.js"
import * as EmbeddedBroker from "../../src/wire/EmbeddedBroker.js"
import { admin, consumer, kafka, producer, text } from "./helpers.js"

const Broker = EmbeddedBroker.EmbeddedBroker

interface Seen {
  readonly partition: number
  readonly offset: string
  readonly key: string | null
  readonly value: string | null
}

/** Runs a consumer until it has seen `count` messages (then keeps it running for the scope). */
const consumeUntil = (
  c: import("kafkajs").Consumer,
  topic: string,
  count: number,
  fromBeginning = true,
): Effect.Effect<Array<Seen>> =>
  Effect.gen(function* () {
    const seen: Array<Seen> = []
    const done = yield* Deferred.make<Array<Seen>>()
    yield* Effect.promise(() => c.subscribe({ topic, fromBeginning }))
    yield* Effect.promise(() =>
      c.run({
        eachMessage: async ({ partition, message }: EachMessagePayload) => {
          seen.push({ partition, offset: message.offset, key: text(message.key), value: text(message.value) })
          if (seen.length >= count) Effect.runSync(Deferred.succeed(done, seen.slice()))
        },
      }),
    )
    return yield* Deferred.await(done)
  })

describe("kafkajs against the embedded broker", () => {
  it.live(
    "admin: create, describe (leaders spread over 3 brokers), offsets, DeleteRecords, delete",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        expect(broker.listeners.map((l) => l.nodeId)).toEqual([0, 1, 2])
        const k = kafka(broker.brokers)
        const a = yield* admin(k)
        expect(yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "orders", numPartitions: 3 }] }))).toBe(true)
        // An existing topic: kafkajs swallows TOPIC_ALREADY_EXISTS and answers false.
        expect(yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "orders", numPartitions: 3 }] }))).toBe(false)
        const meta = yield* Effect.promise(() => a.fetchTopicMetadata({ topics: ["orders"] }))
        expect(meta.topics[0].partitions.map((p) => p.leader).sort()).toEqual([0, 1, 2])
        expect(yield* Effect.promise(() => a.listTopics())).toContain("orders")

        for (const p of [0, 1, 2]) {
          yield* control.produce("orders", p, Array.from({ length: 5 + p }, (_, i) => ({ key: `k${i}`, value: `v${i}` })))
        }
        const offsets = yield* Effect.promise(() => a.fetchTopicOffsets("orders"))
        expect(offsets.map((o) => [o.partition, o.low, o.high]).sort()).toEqual([
          [0, "0", "5"],
          [1, "0", "6"],
          [2, "0", "7"],
        ])

        yield* Effect.promise(() => a.deleteTopicRecords({ topic: "orders", partitions: [{ partition: 1, offset: "4" }] }))
        expect((yield* control.partitionState(TopicPartition.make("orders", 1))).logStartOffset).toBe(4n)
        const after = yield* Effect.promise(() => a.fetchTopicOffsets("orders"))
        expect(after.find((o) => o.partition === 1)?.low).toBe("4")

        const log = yield* control.requests
        expect(log.some((e) => e.api === "DeleteRecords")).toBe(true)
        expect(log.some((e) => e.api === "CreateTopics")).toBe(true)

        yield* Effect.promise(() => a.deleteTopics({ topics: ["orders"] }))
        expect(yield* Effect.promise(() => a.listTopics())).not.toContain("orders")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 3 }))),
    30_000,
  )

  it.live(
    "producer (gzip, headers) → model keeps the compressed batch → consumer reads it back",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const model = yield* BrokerModel.BrokerModel
        const k = kafka(broker.brokers)
        const p = yield* producer(k)
        const sent = yield* Effect.promise(() =>
          p.send({
            topic: "gz",
            compression: CompressionTypes.GZIP,
            messages: Array.from({ length: 20 }, (_, i) => ({
              key: `key-${i}`,
              value: `value-${i}`.repeat(10),
              headers: { trace: `t${i}` },
            })),
          }),
        )
        expect(sent[0].errorCode).toBe(ErrorCode.NONE)
        const batches = yield* model.batches(TopicPartition.make("gz", 0))
        expect(batches.length).toBe(1)
        expect(batches[0].attributes & 0x07).toBe(1) // gzip, kept as produced
        expect(batches[0].raw).toBeDefined()
        expect(batches[0].records.length).toBe(20)
        expect(text(batches[0].records[3].headers[0].value)).toBe("t3")

        const c = yield* consumer(k, { groupId: "gz-reader", maxWaitTimeInMs: 100 })
        const seen = yield* consumeUntil(c, "gz", 20)
        expect(seen.map((s) => s.offset)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
        expect(seen[7]).toEqual({ partition: 0, offset: "7", key: "key-7", value: "value-7".repeat(10) })
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 1 }))),
    30_000,
  )

  it.live(
    "idempotent producer: InitProducerId, sequences per partition, batches stored with the producer id",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const model = yield* BrokerModel.BrokerModel
        yield* (yield* TestBroker).createTopic("idem", 1)
        const k = kafka(broker.brokers)
        const p = yield* producer(k, { idempotent: true, maxInFlightRequests: 1 })
        yield* Effect.promise(() => p.send({ topic: "idem", messages: [{ value: "a" }, { value: "b" }] }))
        yield* Effect.promise(() => p.send({ topic: "idem", messages: [{ value: "c" }] }))
        const batches = yield* model.batches(TopicPartition.make("idem", 0))
        expect(batches.map((b) => [b.baseOffset, b.baseSequence])).toEqual([
          [0n, 0],
          [2n, 2],
        ])
        expect(batches[0].producerId).toBeGreaterThanOrEqual(0n)
        expect(batches[1].producerId).toBe(batches[0].producerId)
        expect((yield* model.requests).some((e) => e.api === "InitProducerId")).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    20_000,
  )

  it.live(
    "consumer group: two members split the partitions, commit, and a later member resumes from the commits",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("events", 4)
        for (let p = 0; p < 4; p++) {
          yield* control.produce("events", p, Array.from({ length: 10 }, (_, i) => ({ key: `p${p}`, value: `${p}:${i}` })))
        }
        const k = kafka(broker.brokers)
        const seenA: Array<Seen> = []
        const seenB: Array<Seen> = []
        const all = yield* Deferred.make<void>()
        const onMessage = (into: Array<Seen>) => async ({ partition, message }: EachMessagePayload) => {
          into.push({ partition, offset: message.offset, key: text(message.key), value: text(message.value) })
          if (seenA.length + seenB.length >= 40) Effect.runSync(Deferred.succeed(all, undefined))
        }
        yield* Effect.scoped(
          Effect.gen(function* () {
            const a = yield* consumer(k, { groupId: "grp", maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 })
            const b = yield* consumer(k, { groupId: "grp", maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 })
            yield* Effect.promise(() => a.subscribe({ topic: "events", fromBeginning: true }))
            yield* Effect.promise(() => b.subscribe({ topic: "events", fromBeginning: true }))
            yield* Effect.promise(() => a.run({ eachMessage: onMessage(seenA) }))
            yield* Effect.promise(() => b.run({ eachMessage: onMessage(seenB) }))
            yield* Deferred.await(all)
            // Both end up members of one stable generation, two partitions each (DescribeGroups).
            const ad = yield* admin(k)
            const described = yield* Effect.promise(async () => {
              for (let i = 0; i < 100; i++) {
                const { groups } = await ad.describeGroups(["grp"])
                if (groups[0].state === "Stable" && groups[0].members.length === 2) return groups[0]
                await new Promise((r) => setTimeout(r, 100))
              }
              return (await ad.describeGroups(["grp"])).groups[0]
            })
            expect(described.state).toBe("Stable")
            expect(described.protocol).toBe("RoundRobinAssigner")
            expect(described.members.length).toBe(2)
            // Let both commit what they consumed.
            yield* Effect.sleep("1000 millis")
          }),
        )
        const values = [...seenA, ...seenB].map((s) => s.value).sort()
        expect(new Set(values).size).toBe(40)
        // At least once: a rebalance may hand a partition over before its last commit.
        expect(seenA.length + seenB.length).toBeGreaterThanOrEqual(40)

        const committed = yield* (yield* BrokerModel.BrokerModel).committedOffsets(
          "grp",
          [0, 1, 2, 3].map((p) => TopicPartition.make("events", p)),
        )
        expect(committed.map((c) => c.offset)).toEqual([10n, 10n, 10n, 10n])

        for (let p = 0; p < 4; p++) yield* control.produce("events", p, [{ value: `late-${p}` }])
        const later = yield* Effect.scoped(
          Effect.flatMap(consumer(k, { groupId: "grp", maxWaitTimeInMs: 100 }), (c) => consumeUntil(c, "events", 4, true)),
        )
        expect(later.map((s) => s.value).sort()).toEqual(["late-0", "late-1", "late-2", "late-3"])
        expect(later.map((s) => s.offset)).toEqual(["10", "10", "10", "10"])
        // The testkit's shared coordinator ran the group: its logs saw the wire members and commits.
        const shared = yield* InMemoryCoordinator.InMemoryCoordinator
        const events = yield* shared.events("grp")
        expect(events.filter((e) => e.event === "Joined").length).toBe(3)
        expect(events.filter((e) => e.event === "Left").length).toBe(3)
        const commits = yield* shared.commitLog("grp")
        expect(commits.some((c) => c.topic === "events" && c.offset === 11n)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 2 }))),
    40_000,
  )

  it.live(
    "admin sets a group's offsets (a commit from outside any generation), reads them back, and a consumer starts there",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("admin-offsets", 2)
        yield* control.produce("admin-offsets", 0, ["a", "b", "c", "d"].map((value) => ({ value })))
        yield* control.produce("admin-offsets", 1, ["e", "f"].map((value) => ({ value })))
        const k = kafka(broker.brokers)
        const a = yield* admin(k)
        // kafkajs runs a throwaway consumer until its first fetch answers: one 5 s long poll on an idle group.
        yield* Effect.promise(() =>
          a.setOffsets({ groupId: "adm", topic: "admin-offsets", partitions: [{ partition: 0, offset: "2" }, { partition: 1, offset: "1" }] }),
        )
        const fetched = yield* Effect.promise(() => a.fetchOffsets({ groupId: "adm", topics: ["admin-offsets"] }))
        expect(fetched[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
          [0, "2"],
          [1, "1"],
        ])
        const c = yield* consumer(k, { groupId: "adm", maxWaitTimeInMs: 100 })
        const seen = yield* consumeUntil(c, "admin-offsets", 3, true)
        expect(seen.map((s) => s.value).sort()).toEqual(["c", "d", "f"])
        const groups = yield* Effect.promise(() => a.listGroups())
        expect(groups.groups.map((g) => g.groupId)).toContain("adm")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 2 }))),
    20_000,
  )

  it.live(
    "faults over the wire: a closed connection on Fetch, an error code on Produce, a leader move",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("faulty", 2)
        const k = kafka(broker.brokers)
        const p = yield* producer(k)
        yield* control.failNext("Produce", 1, { _tag: "ErrorCode", code: ErrorCode.NOT_LEADER_OR_FOLLOWER }) // retriable
        yield* Effect.promise(() => p.send({ topic: "faulty", messages: [{ partition: 0, value: "first" }] }))
        const log1 = yield* control.requests
        const produces = log1.filter((e) => e.api === "Produce")
        expect(produces.length).toBe(2)
        expect(produces[0].outcome).toBe("fault")
        expect(produces[1].outcome).toBe("ok")

        // Leadership of partition 0 moves to broker 1: broker 0 answers NOT_LEADER, kafkajs refreshes metadata.
        const tp0 = TopicPartition.make("faulty", 0)
        expect((yield* control.partitionState(tp0)).offsets).toEqual([0n])
        yield* broker.moveLeader(tp0, 1)
        yield* Effect.promise(() => p.send({ topic: "faulty", messages: [{ partition: 0, value: "second" }] }))
        const produced = (yield* (yield* BrokerModel.BrokerModel).requests).filter((e) => e.api === "Produce" && e.brokerId === 1)
        expect(produced.length).toBeGreaterThan(0)
        expect((yield* control.partitionState(tp0)).offsets).toEqual([0n, 1n])

        yield* control.failNext("Fetch", 1, { _tag: "Network" })
        const c = yield* consumer(k, { groupId: "faulty-reader", maxWaitTimeInMs: 100 })
        const seen = yield* consumeUntil(c, "faulty", 2)
        expect(seen.map((s) => s.value)).toEqual(["first", "second"])
        const fetches = (yield* control.requests).filter((e) => e.api === "Fetch")
        expect(fetches[0].outcome).toBe("fault")
        expect(fetches[0].fault?._tag).toBe("Network")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ brokers: 2 }))),
    30_000,
  )

  it.live(
    "a Timeout fault leaves one request unanswered (kafkajs times out, the next call works); latency delays answers",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("slowpoke", 1)
        yield* control.produce("slowpoke", 0, [{ value: "a" }, { value: "b" }])
        const k = kafka(broker.brokers, { requestTimeout: 400, enforceRequestTimeout: true })
        const a = yield* admin(k)
        yield* control.failNext("ListOffsets", 1, { _tag: "Timeout" })
        const start = Date.now()
        const timedOut = yield* Effect.either(Effect.tryPromise(() => a.fetchTopicOffsets("slowpoke")))
        expect(Date.now() - start).toBeGreaterThanOrEqual(390)
        expect(timedOut._tag === "Left" && String(timedOut.left.cause)).toContain("KafkaJSRequestTimeoutError")
        const offsets = yield* Effect.promise(() => a.fetchTopicOffsets("slowpoke"))
        expect(offsets[0].high).toBe("2")
        const lists = (yield* control.requests).filter((e) => e.api === "ListOffsets")
        // fetchTopicOffsets lists latest then earliest: the first call died on its first request.
        expect(lists.map((e) => e.outcome)).toEqual(["fault", "ok", "ok"])

        const patient = yield* admin(kafka(broker.brokers))
        yield* control.setLatency("Metadata", "600 millis")
        const before = Date.now()
        yield* Effect.promise(() => patient.fetchTopicMetadata({ topics: ["slowpoke"] }))
        expect(Date.now() - before).toBeGreaterThanOrEqual(590)
        yield* control.setLatency("Metadata", 0)
        const after = Date.now()
        yield* Effect.promise(() => patient.fetchTopicMetadata({ topics: ["slowpoke"] }))
        expect(Date.now() - after).toBeLessThan(590)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    30_000,
  )

  it.live(
    "DeleteRecords under a paused kafkajs consumer: OFFSET_OUT_OF_RANGE over the wire, kafkajs resets to the new log start",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        const tp = TopicPartition.make("retention", 0)
        yield* control.createTopic("retention", 1)
        yield* control.produce("retention", 0, Array.from({ length: 5 }, (_, i) => ({ value: `r${i}` })))
        const k = kafka(broker.brokers)
        const c = yield* consumer(k, { groupId: "retention-reader", maxWaitTimeInMs: 100 })
        const seen: Array<string> = []
        const first = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        yield* Effect.promise(() => c.subscribe({ topic: "retention", fromBeginning: true }))
        yield* Effect.promise(() =>
          c.run({
            eachMessage: async ({ message }) => {
              seen.push(message.offset)
              if (seen.length === 5) Effect.runSync(Deferred.succeed(first, undefined))
              if (seen.length === 7) Effect.runSync(Deferred.succeed(second, undefined))
            },
          }),
        )
        yield* Deferred.await(first)
        c.pause([{ topic: "retention" }])
        yield* control.produce("retention", 0, Array.from({ length: 5 }, (_, i) => ({ value: `r${5 + i}` })))
        yield* control.deleteRecords(tp, 8n)
        yield* control.clearRequests
        c.resume([{ topic: "retention" }])
        yield* Deferred.await(second)
        expect(seen).toEqual(["0", "1", "2", "3", "4", "8", "9"])
        const log = yield* control.requests
        expect(log.some((e) => e.api === "Fetch" && (e.errors ?? []).some((x) => x.code === 1))).toBe(true)
        expect(log.some((e) => e.api === "ListOffsets")).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    30_000,
  )

  it.live(
    "a batch above message.max.bytes is refused with MESSAGE_TOO_LARGE; an invalid topic name is INVALID_TOPIC_EXCEPTION",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("limits", 1)
        const k = kafka(broker.brokers)
        const p = yield* producer(k)
        const refused = yield* Effect.either(
          Effect.tryPromise(() => p.send({ topic: "limits", messages: [{ value: "x".repeat(20_000) }] })),
        )
        expect(refused._tag).toBe("Left")
        expect(refused._tag === "Left" && JSON.stringify(refused.left.cause, Object.getOwnPropertyNames(refused.left.cause))).toContain(
          "MESSAGE_TOO_LARGE",
        )
        yield* Effect.promise(() => p.send({ topic: "limits", messages: [{ value: "x".repeat(5_000) }] }))
        expect((yield* control.partitionState(TopicPartition.make("limits", 0))).highWatermark).toBe(1n)
        const a = yield* admin(k)
        const invalid = yield* Effect.either(Effect.tryPromise(() => a.fetchTopicMetadata({ topics: ["bad topic!"] })))
        expect(invalid._tag === "Left" && String(invalid.left.cause)).toContain("operation on an invalid topic")
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ maxMessageBytes: 10_000 }))),
    30_000,
  )

  it.live(
    "truncation (unclean leader election) under a paused kafkajs consumer: out of range past the end, kafkajs resets",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        const tp = TopicPartition.make("truncated", 0)
        yield* control.createTopic("truncated", 1)
        yield* control.produce("truncated", 0, Array.from({ length: 6 }, (_, i) => ({ value: `old${i}` })))
        const k = kafka(broker.brokers)
        const c = yield* consumer(k, { groupId: "truncated-reader", maxWaitTimeInMs: 100 })
        const seen: Array<string> = []
        const first = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        yield* Effect.promise(() => c.subscribe({ topic: "truncated", fromBeginning: true }))
        yield* Effect.promise(() =>
          c.run({
            eachMessage: async ({ message }) => {
              seen.push(`${message.offset}=${text(message.value)}`)
              if (seen.length === 6) Effect.runSync(Deferred.succeed(first, undefined))
              if (seen.length === 11) Effect.runSync(Deferred.succeed(second, undefined))
            },
          }),
        )
        yield* Deferred.await(first)
        c.pause([{ topic: "truncated" }])
        yield* control.truncate(tp, 3n)
        yield* control.produce("truncated", 0, [{ value: "new3" }, { value: "new4" }])
        c.resume([{ topic: "truncated" }])
        yield* Deferred.await(second)
        // Position 6 is past the new end (5): OFFSET_OUT_OF_RANGE, and kafkajs (fromBeginning) restarts at 0.
        expect(seen.slice(6)).toEqual(["0=old0", "1=old1", "2=old2", "3=new3", "4=new4"])
        expect((yield* control.partitionState(tp)).highWatermark).toBe(5n)
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    30_000,
  )

  it.live(
    "compaction holes and DeleteRecords are what a kafkajs consumer sees",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        const tp = TopicPartition.make("compacted", 0)
        yield* control.createTopic("compacted", 1)
        yield* control.produce("compacted", 0, [
          { key: "a", value: "a1" },
          { key: "b", value: "b1" },
          { key: "a", value: "a2" },
          { key: "c", value: "c1" },
          { key: "b", value: "b2" },
          { key: "d", value: "d1" },
        ])
        yield* control.compact(tp)
        expect((yield* control.partitionState(tp)).offsets).toEqual([2n, 3n, 4n, 5n])
        yield* control.deleteRecords(tp, 3n)
        const k = kafka(broker.brokers)
        const c = yield* consumer(k, { groupId: "compacted-reader", maxWaitTimeInMs: 100 })
        const seen = yield* consumeUntil(c, "compacted", 3)
        expect(seen.map((s) => [s.offset, s.value])).toEqual([
          ["3", "c1"],
          ["4", "b2"],
          ["5", "d1"],
        ])
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    30_000,
  )

  it.live(
    "Fetch long-polls: a waiting consumer gets a record produced later at once; a record larger than maxBytes still arrives",
    () =>
      Effect.gen(function* () {
        const broker = yield* Broker
        const control = yield* TestBroker
        yield* control.createTopic("slow", 1)
        const k = kafka(broker.brokers)
        const c = yield* consumer(k, {
          groupId: "slow-reader",
          // far beyond the test's timeout: only a long poll woken by the produce lets it pass
          maxWaitTimeInMs: 60_000,
          maxBytesPerPartition: 1024,
          maxBytes: 1024,
        })
        const big = "x".repeat(200_000)
        const fiber = yield* Effect.fork(consumeUntil(c, "slow", 2))
        yield* Effect.sleep("1500 millis") // the consumer has joined and is parked in a long poll
        yield* control.produce("slow", 0, [{ value: "small" }])
        yield* control.produce("slow", 0, [{ value: big }])
        const seen = yield* Fiber.join(fiber)
        expect(seen.map((s) => s.value?.length)).toEqual([5, 200_000])
      }).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer())),
    30_000,
  )
})
