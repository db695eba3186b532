/**
 * What real Apache Kafka does with fetch limits below one batch (KIP-74), against our receive path:
 * the first non-empty partition of an answer gets its first batch whole however small the limits
 * are; a later partition whose first batch does not fit gets nothing (never a cut batch), so the
 * client must not call that corrupt, and the consumer drains both partitions (each gets its turn as
 * the first non-empty one). Also: a response of many MiB (over the framed socket) with CRCs checked.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, Fetcher, TopicPartition } from "@kafka-effect/core"
import { Effect, Stream } from "effect"
import { CompressionTypes, Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as RealKafka from "./harness/RealKafka.js"

/** A topic with `batches[p]` produced to partition p, each inner array as one batch. */
const topicWith = (prefix: string, batches: ReadonlyArray<ReadonlyArray<ReadonlyArray<Buffer>>>, compression = CompressionTypes.None) =>
  Effect.gen(function* () {
    const topic = RealKafka.topicName(prefix)
    const kafka = new Kafka({ brokers: [...RealKafka.brokers()], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    const producer = kafka.producer()
    yield* Effect.acquireRelease(
      Effect.promise(() => Promise.all([admin.connect(), producer.connect()])),
      () => Effect.promise(() => Promise.all([admin.disconnect(), producer.disconnect()])),
    )
    yield* Effect.promise(() =>
      admin.createTopics({ topics: [{ topic, numPartitions: batches.length, configEntries: [{ name: "max.message.bytes", value: "10485760" }] }], waitForLeaders: true }),
    )
    for (const [partition, list] of batches.entries()) {
      for (const values of list) {
        yield* Effect.promise(() => producer.send({ topic, compression, messages: values.map((value) => ({ value, partition })) }))
      }
    }
    return topic
  })

const client = KafkaClient.layer({ brokers: RealKafka.brokers() })

describe("real Apache Kafka: fetch limits below one batch (KIP-74) and large responses", () => {
  it.scoped("a 1 KiB limit: the first partition's 300 KB batch comes whole, the second's not at all (no error); the consumer drains both", () =>
    Effect.gen(function* () {
      const value = (p: number, i: number) => Buffer.alloc(100_000, p * 10 + i)
      const topic = yield* topicWith("kip74", [
        [[value(0, 0), value(0, 1), value(0, 2)]],
        [[value(1, 0), value(1, 1), value(1, 2)]],
      ])
      const fetcher = yield* Fetcher.Fetcher
      const results = yield* fetcher.fetch({
        partitions: [0, 1].map((partition) => ({ topic, partition, offset: 0n, maxBytes: 1024 })),
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 1024,
        isolationLevel: "read_uncommitted",
      })
      const shape = results.map((r) => (r._tag === "Records" ? r.records.map((x) => x.value?.length) : r.error._tag))
      expect(shape).toEqual([[100_000, 100_000, 100_000], []])

      const consumer = yield* Consumer.make({ config: { maxWait: "100 millis", maxBytes: 1024, maxPartitionBytes: 1024, autoOffsetReset: "earliest" } })
      yield* consumer.assign([TopicPartition.make(topic, 0), TopicPartition.make(topic, 1)])
      const seen = yield* consumer.records.pipe(Stream.take(6), Stream.runCollect)
      expect([...seen].map((r) => `${r.partition}@${r.offset}:${r.value?.[0]}`).sort()).toEqual(
        ["0@0:0", "0@1:1", "0@2:2", "1@0:10", "1@1:11", "1@2:12"],
      )
    }).pipe(Effect.provide(client)),
    60_000,
  )

  it.scoped("an answer of 16 MB over 4 partitions (plain and gzip), CRCs checked: every record, in order", () =>
    Effect.gen(function* () {
      const values = (p: number) => Array.from({ length: 40 }, (_, i) => Buffer.alloc(100_000, (p * 40 + i) % 251))
      const topic = yield* topicWith("large", [[values(0)], [values(1)], [values(2)]])
      const gz = yield* topicWith("large-gz", [[values(3)]], CompressionTypes.GZIP)
      const fetcher = yield* Fetcher.Fetcher
      const results = yield* fetcher.fetch({
        partitions: [
          ...[0, 1, 2].map((partition) => ({ topic, partition, offset: 0n, maxBytes: 8 << 20 })),
          { topic: gz, partition: 0, offset: 0n, maxBytes: 8 << 20 },
        ],
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 32 << 20,
        isolationLevel: "read_uncommitted",
      })
      expect(results.map((r) => (r._tag === "Records" ? r.records.map((x) => `${x.offset}:${x.value?.[99_999]}`) : r.error._tag))).toEqual(
        [0, 1, 2, 3].map((p) => Array.from({ length: 40 }, (_, i) => `${i}:${(p * 40 + i) % 251}`)),
      )
    }).pipe(Effect.provide(client)),
    60_000,
  )
})

