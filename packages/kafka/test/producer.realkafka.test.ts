/**
 * The Producer against real Apache Kafka (the suite's shared broker): what it writes is read back by
 * our Consumer; what the broker stored (producer ids, compressed batches) is read with a raw Fetch.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, KafkaError, TopicPartition } from "@kafka-effect/core"
import { Config, ConfigProvider, Effect, Either, Exit, Metric, Redacted, Schedule, Stream, Tracer } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"
import { scopedCluster } from "../src/internal/cluster.js"
import { decodeFetchResponse } from "../src/internal/fetchResponse.js"
import * as K from "../src/internal/kafkajs.js"
import { ambiguousSend } from "./harness/AmbiguousSend.js"
import * as RealKafka from "./harness/RealKafka.js"

const brokers = () => RealKafka.brokers()

const createTopic = (topic: string, numPartitions: number) =>
  Effect.gen(function* () {
    const admin = new Kafka({ brokers: [...brokers()], logLevel: logLevel.NOTHING }).admin()
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.connect()),
      () => Effect.promise(() => admin.disconnect()),
    )
    yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true }))
  }).pipe(Effect.scoped)

/** Reads `count` records of these partitions from the beginning with our Consumer. */
const readBack = (partitions: ReadonlyArray<TopicPartition.TopicPartition>, count: number) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make({ config: { maxWait: "100 millis" } })
    yield* consumer.assign(partitions)
    yield* consumer.seekToBeginning()
    const got = yield* consumer.records.pipe(Stream.take(count), Stream.runCollect)
    return [...got]
  }).pipe(Effect.scoped, Effect.provide(KafkaClient.layer({ brokers: brokers() })))

/** One partition's Fetch answer from offset 0 as the broker sent it: its size and the batch headers. */
const rawFetch = (topic: string, partition: number) =>
  Effect.gen(function* () {
    const config = yield* KafkaClient.validate({ brokers: brokers() })
    const cluster = yield* scopedCluster(config, { clientId: "raw-fetch", isolationLevel: 0 })
    return yield* Effect.promise(async () => {
      await cluster.connect()
      await cluster.addMultipleTargetTopics([topic])
      const leaders = cluster.findLeaderForPartitions(topic, [partition])
      const [nodeId] = Object.keys(leaders)
      const broker = await cluster.findBroker({ nodeId: nodeId! })
      const proto = K.fetchRequest(broker, {
        replicaId: -1,
        isolationLevel: 0,
        maxWaitTime: 100,
        minBytes: 1,
        maxBytes: 10 << 20,
        topics: [{ topic, partitions: [{ partition, fetchOffset: "0", maxBytes: 10 << 20 }] }],
      })
      const version = proto.request.apiVersion
      return K.send(broker, proto, {
        decode: async (payload) => ({ bytes: payload.length, answer: await decodeFetchResponse(payload, version) }),
        parse: (decoded) => Promise.resolve(decoded),
      })
    })
  }).pipe(Effect.scoped)

const text = (r: ConsumerRecord.ConsumerRecord) => ({
  partition: r.partition,
  offset: r.offset,
  key: ConsumerRecord.utf8(r.key),
  value: ConsumerRecord.utf8(r.value),
  // The traceparent the Producer adds is random per send; the round trip checks it on its own.
  headers: r.headers.filter((h) => h.key !== "traceparent").map((h) => [h.key, ConsumerRecord.utf8(h.value)]),
})

/** A tracer that keeps every span it starts (the native one underneath). */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      spans.push(span)
      return span
    },
    context: native.context,
  })
  return { tracer, spans }
})

describe("Producer over real Apache Kafka", () => {
  it.scopedLive("round trip with our Consumer: keys, values, headers and timestamps kept, offsets as the broker answered; same key, same partition", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-roundtrip")
      yield* createTopic(topic, 3)
      const producer = yield* Producer.make({ brokers: brokers(), acks: "all" })
      const sent = yield* producer.send(
        topic,
        ["a", "b", "c", "a", "b", "c"].map((key, i) => ({
          key,
          value: `v${i}`,
          headers: { trace: `t${i}`, multi: ["x", new Uint8Array([0x79])] },
          timestamp: 1_700_000_000_000 + i,
        })),
      )
      // One entry per partition written, each with the offset of its first record.
      expect(new Set(sent.map((m) => m.topic))).toEqual(new Set([topic]))
      expect(sent.every((m) => m.baseOffset === 0n && m.logAppendTime === -1n)).toBe(true)
      const got = yield* readBack([0, 1, 2].map((p) => TopicPartition.make(topic, p)), 6)
      const byValue = new Map(got.map((r) => [ConsumerRecord.utf8(r.value), r]))
      for (let i = 0; i < 6; i++) {
        const r = byValue.get(`v${i}`)!
        expect(text(r).headers).toEqual([["trace", `t${i}`], ["multi", "x"], ["multi", "y"]])
        expect(r.headers.filter((h) => h.key === "traceparent").map((h) => ConsumerRecord.utf8(h.value))).toEqual([
          expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/),
        ])
        expect(r.timestamp).toBe(1_700_000_000_000 + i)
      }
      // murmur2 of the key: each key has one partition, and records of a key keep their order.
      for (const key of ["a", "b", "c"]) {
        const ofKey = got.filter((r) => ConsumerRecord.utf8(r.key) === key)
        expect(ofKey).toHaveLength(2)
        expect(ofKey[0]!.partition).toBe(ofKey[1]!.partition)
        expect(ofKey[0]!.offset < ofKey[1]!.offset).toBe(true)
      }
      expect(new Set(got.map((r) => r.partition))).toEqual(new Set(sent.map((m) => m.partition)))
    }),
  )

  it.scopedLive("explicit partitions, a custom partitioner, tombstones; a partitioner answering a missing partition is an InvalidRecord", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-partitioner")
      yield* createTopic(topic, 2)
      const producer = yield* Producer.make({
        brokers: brokers(),
        partitioner: ({ key, partitionCount }) => (key === null ? 0 : key.length % partitionCount),
      })
      yield* producer.send(topic, [
        { key: "k", value: "one" }, // length 1 → partition 1
        { key: "kk", value: null }, // length 2 → partition 0
        { key: "k", value: "explicit", partition: 0 },
      ])
      const got = yield* readBack([0, 1].map((p) => TopicPartition.make(topic, p)), 3)
      expect(got.map(text).sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))).toEqual([
        { partition: 0, offset: 0n, key: "kk", value: null, headers: [] },
        { partition: 0, offset: 1n, key: "k", value: "explicit", headers: [] },
        { partition: 1, offset: 0n, key: "k", value: "one", headers: [] },
      ])
      const wrong = yield* Producer.make({ brokers: brokers(), partitioner: () => 7 })
      const error = yield* Effect.flip(wrong.send(topic, [{ value: "x" }, { value: "y" }]))
      expect(error).toMatchObject({ _tag: "InvalidRecord", topic, index: 0, field: "partitioner", value: 7 })
    }),
  )

  it.scopedLive("idempotent with acks=all: the broker gives the producer an id, 10 sends of 10 land once each, in order", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-idempotent")
      yield* createTopic(topic, 1)
      const producer = yield* Producer.make({ brokers: brokers(), acks: "all", idempotent: true })
      const bases: Array<bigint> = []
      for (let s = 0; s < 10; s++) {
        const [meta] = yield* producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ value: `${s * 10 + i}` })))
        bases.push(meta!.baseOffset)
      }
      expect(bases).toEqual(Array.from({ length: 10 }, (_, s) => BigInt(s * 10)))
      const got = yield* readBack([TopicPartition.make(topic, 0)], 100)
      expect(got.map((r) => [r.offset, ConsumerRecord.utf8(r.value)])).toEqual(
        Array.from({ length: 100 }, (_, i) => [BigInt(i), `${i}`]),
      )
      const { answer } = yield* rawFetch(topic, 0)
      const batches = answer.partitions[0]!.batches
      expect(batches).toHaveLength(10)
      const ids = new Set(batches.map((b) => b.producerId))
      expect(ids.size).toBe(1)
      expect([...ids][0]! >= 0n).toBe(true)

      // A plain producer's batches carry no producer id.
      const plainTopic = RealKafka.topicName("producer-plain")
      yield* createTopic(plainTopic, 1)
      const plain = yield* Producer.make({ brokers: brokers(), acks: "leader" })
      yield* plain.send(plainTopic, [{ value: "p" }])
      expect((yield* rawFetch(plainTopic, 0)).answer.partitions[0]!.batches.map((b) => b.producerId)).toEqual([-1n])
    }),
  )

  it.scopedLive("gzip: the broker keeps the batch compressed (the fetch answer is a fraction of the values' size), the consumer inflates it", () =>
    Effect.gen(function* () {
      const value = "kafka-effect ".repeat(100) // 1300 bytes, very compressible
      const sizes: Record<string, number> = {}
      for (const compression of ["none", "gzip"] as const) {
        const topic = RealKafka.topicName(`producer-${compression}`)
        yield* createTopic(topic, 1)
        const producer = yield* Producer.make({ brokers: brokers(), compression })
        yield* producer.send(topic, Array.from({ length: 100 }, (_, i) => ({ key: `${i}`, value })))
        const got = yield* readBack([TopicPartition.make(topic, 0)], 100)
        expect(got.every((r) => ConsumerRecord.utf8(r.value) === value)).toBe(true)
        expect(got.map((r) => ConsumerRecord.utf8(r.key))).toEqual(Array.from({ length: 100 }, (_, i) => `${i}`))
        sizes[compression] = (yield* rawFetch(topic, 0)).bytes
      }
      expect(sizes.none!).toBeGreaterThan(100 * 1300)
      expect(sizes.gzip!).toBeLessThan(10_000)
    }),
  )

  it.scopedLive("acks=none sends and answers no metadata; the records are there", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-acks0")
      yield* createTopic(topic, 1)
      const producer = yield* Producer.make({ brokers: brokers(), acks: "none" })
      expect(yield* producer.send(topic, [{ value: "fire" }, { value: "forget" }])).toEqual([])
      const got = yield* readBack([TopicPartition.make(topic, 0)], 2)
      expect(got.map((r) => ConsumerRecord.utf8(r.value))).toEqual(["fire", "forget"])
    }),
  )

  it.scopedLive("an unknown topic with auto-creation off: ProduceError UnknownTopicOrPartition naming the topic, after the schedule's retries; counted as an error", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-missing")
      const producer = yield* Producer.make({
        brokers: brokers(),
        allowAutoTopicCreation: false,
        retrySchedule: Schedule.recurs(1),
      })
      // The Producer labels its metrics with its client id (default "kafka-effect").
      const errors = Metric.tagged(Metric.tagged(Producer.metrics.sendErrors, "error.type", "UnknownTopicOrPartition"), "messaging.client.id", "kafka-effect")
      const before = (yield* Metric.value(errors)).count
      const error = yield* Effect.flip(producer.send(topic, [{ value: "x", partition: 0 }]))
      expect(error).toMatchObject({
        _tag: "ProduceError",
        reason: "UnknownTopicOrPartition",
        topic,
        topics: [topic],
        partition: 0,
        records: 1,
        retriable: true,
      })
      expect(error.cause).toBeInstanceOf(Error)
      expect((yield* Metric.value(errors)).count).toBe(before + 1)
      // With auto-creation allowed, the broker (auto.create.topics.enable=true) creates it.
      const creating = yield* Producer.make({ brokers: brokers(), allowAutoTopicCreation: true })
      const created = yield* creating.send(topic, [{ value: "y" }])
      expect(created.map((m) => [m.partition, m.baseOffset])).toEqual([[0, 0n]])
    }),
  )

  it.scopedLive("a span per send with Kafka's messaging attributes; records and bytes counted per topic", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-observed")
      yield* createTopic(topic, 2)
      const { tracer, spans } = yield* recordingTracer
      // Without the traceparent header, so that the byte count below is the records' own.
      const producer = yield* Producer.make({ brokers: brokers(), propagateTrace: false })
      yield* producer.send(topic, [
        { value: "abc", key: "k", partition: 1, headers: { h: "12" } },
        { value: "de", partition: 1 },
      ]).pipe(Effect.withTracer(tracer))
      const send = spans.filter((s) => s.name === "Producer.send")
      expect(send).toHaveLength(1)
      const span = send[0]!
      expect(span.kind).toBe("producer")
      expect(Object.fromEntries(span.attributes)).toMatchObject({
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": "1",
        "messaging.batch.message_count": 2,
        "messaging.operation.type": "send",
        "messaging.kafka.offset": 0,
      })
      expect(span.status._tag).toBe("Ended")
      expect((yield* Metric.value(Metric.tagged(Metric.tagged(Producer.metrics.recordsSent, "messaging.destination.name", topic), "messaging.client.id", "kafka-effect"))).count).toBe(2)
      // key 1 + value 3 + header name 1 + header value 2, then value 2
      expect((yield* Metric.value(Metric.tagged(Metric.tagged(Producer.metrics.bytesSent, "messaging.destination.name", topic), "messaging.client.id", "kafka-effect"))).count).toBe(9)

      const other = RealKafka.topicName("producer-observed-b")
      yield* createTopic(other, 1)
      yield* producer.sendBatch([
        { topic, records: [{ value: "1", partition: 0 }] },
        { topic: other, records: [{ value: "2" }, { value: "3" }] },
      ]).pipe(Effect.withTracer(tracer))
      const batch = spans.find((s) => s.name === "Producer.sendBatch")!
      expect(batch.attributes.get("messaging.destination.names")).toEqual([topic, other])
      expect(batch.attributes.get("messaging.batch.message_count")).toBe(3)
      expect((yield* Metric.value(Metric.tagged(Metric.tagged(Producer.metrics.recordsSent, "messaging.destination.name", other), "messaging.client.id", "kafka-effect"))).count).toBe(2)
    }),
  )

  it.effect("invalid options and records are typed errors naming field and value; the password is never shown", () =>
    Effect.gen(function* () {
      const bad = (options: Producer.ProducerOptions) => Either.getLeft(Producer.validate(options))
      const b = brokers()
      expect(bad({ brokers: b, acks: "two" as Producer.Acks })).toMatchObject({ value: { field: "acks", value: "two" } })
      expect(bad({ brokers: b, idempotent: true, acks: "leader" })).toMatchObject({ value: { field: "acks", value: "leader" } })
      expect(bad({ brokers: b, compression: "brotli" as Producer.Compression })).toMatchObject({
        value: { field: "compression", value: "brotli" },
      })
      // kafkajs has no snappy codec unless one is registered.
      expect(bad({ brokers: b, compression: "snappy" })).toMatchObject({ value: { field: "compression", value: "snappy" } })
      expect(bad({ brokers: b, ackTimeout: "soon" as never })).toMatchObject({ value: { field: "ackTimeout", value: "soon" } })
      expect(bad({ brokers: [] })).toMatchObject({ value: { field: "brokers" } })
      expect(bad({ brokers: ["nope"] })).toMatchObject({ value: { field: "brokers.0", value: "nope" } })
      const secret = "hunter2-secret"
      const notRedacted = bad({ brokers: b, sasl: { mechanism: "plain", username: "u", password: secret as never } })
      expect(notRedacted).toMatchObject({ value: { field: "sasl.password" } })
      expect(JSON.stringify(notRedacted)).not.toContain(secret)
      // The layer fails with it too, before any connection.
      const exit = yield* Effect.exit(Effect.scoped(Producer.make({ brokers: b, acks: "leader", idempotent: true })))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error).toBeInstanceOf(KafkaError.InvalidConfig)
      // A redacted password is accepted.
      expect(Either.isRight(Producer.validate({ brokers: b, sasl: { mechanism: "plain", username: "u", password: Redacted.make(secret) } }))).toBe(true)
    }),
  )

  it.scopedLive("bad records are InvalidRecord with topic, index, field and value; nothing is sent", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-badrecord")
      yield* createTopic(topic, 1)
      const producer = yield* Producer.make({ brokers: brokers() })
      const cases: ReadonlyArray<[Producer.ProducerRecord, string, unknown]> = [
        [{ value: 42 as never }, "value", 42],
        [{ value: "v", key: 1 as never }, "key", 1],
        [{ value: "v", partition: -1 }, "partition", -1],
        [{ value: "v", headers: { h: 5 as never } }, "headers.h", 5],
        [{ value: "v", timestamp: Number.NaN }, "timestamp", Number.NaN],
      ]
      for (const [record, field, value] of cases) {
        const error = yield* Effect.flip(producer.send(topic, [{ value: "ok" }, record]))
        expect(error).toMatchObject({ _tag: "InvalidRecord", topic, index: 1, field, value })
      }
      expect(yield* Effect.flip(producer.send("", [{ value: "x" }]))).toMatchObject({ _tag: "InvalidRecord", field: "topic" })
      yield* producer.send(topic, [{ value: "only" }])
      const got = yield* readBack([TopicPartition.make(topic, 0)], 1)
      expect(got.map((r) => [r.offset, ConsumerRecord.utf8(r.value)])).toEqual([[0n, "only"]])
    }),
  )

  it.scopedLive("layerConfig reads the options from Config; a bad value is an InvalidConfig naming it", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("producer-config")
      yield* createTopic(topic, 1)
      const config = {
        brokers: Config.array(Config.string(), "KAFKA_BROKERS"),
        acks: Config.literal("all", "leader", "none")("KAFKA_ACKS"),
        compression: Config.literal("none", "gzip", "snappy", "lz4", "zstd")("KAFKA_COMPRESSION"),
      }
      const provider = (compression: string) =>
        ConfigProvider.fromMap(new Map([["KAFKA_BROKERS", brokers().join(",")], ["KAFKA_ACKS", "leader"], ["KAFKA_COMPRESSION", compression]]))
      const [meta] = yield* Effect.flatMap(Producer.Producer, (p) => p.send(topic, [{ value: "from config" }])).pipe(
        Effect.provide(Producer.layerConfig(config)),
        Effect.withConfigProvider(provider("gzip")),
      )
      expect(meta?.baseOffset).toBe(0n)
      const error = yield* Effect.flip(
        Effect.flatMap(Producer.Producer, (p) => p.send(topic, [])).pipe(
          Effect.provide(Producer.layerConfig(config)),
          Effect.withConfigProvider(provider("zstd")),
        ),
      )
      expect(error).toMatchObject({ _tag: "InvalidConfig", field: "compression", value: "zstd" })
    }),
  )

  it.scopedLive("no broker reachable at start: the layer fails with a retriable MetadataError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Producer.make({ brokers: ["127.0.0.1:1"], connectionTimeout: "500 millis" }))
      expect(error).toMatchObject({ _tag: "MetadataError", reason: "Network", retriable: true })
    }),
  )

  it.scopedLive("idempotent: after a send that failed but was written, the next send is written and acknowledged where it is", () =>
    Effect.gen(function* () {
      const topic = `ambiguous-${Date.now()}`
      yield* createTopic(topic, 1)
      const outcome = yield* ambiguousSend(brokers(), topic)
      expect(outcome).toEqual({ firstFailed: "ProduceError", secondAckedAt: 2n, stored: ["0:first", "1:lost?", "2:second"] })
    }),
  30_000)
})
