/**
 * The suite's real Apache Kafka broker answers kafkajs (produce, metadata, offsets) and our
 * KafkaClient (ListOffsets, Fetch) on a topic of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as RealKafka from "./harness/RealKafka.js"

describe("the suite's real Apache Kafka", () => {
  it.scoped("serves kafkajs and KafkaClient: produce 3 records, list [0, 3), fetch them", () =>
    Effect.gen(function* () {
      const topic = RealKafka.topicName("smoke")
      const kafka = new Kafka({ brokers: [...RealKafka.brokers()], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      const producer = kafka.producer()
      yield* Effect.acquireRelease(
        Effect.promise(() => Promise.all([admin.connect(), producer.connect()])),
        () => Effect.promise(() => Promise.all([admin.disconnect(), producer.disconnect()])),
      )
      yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }))
      yield* Effect.promise(() =>
        producer.send({ topic, messages: ["a", "b", "c"].map((value) => ({ value, partition: 1 })) }),
      )
      const tp = TopicPartition.make(topic, 1)
      const lister = yield* OffsetLister.OffsetLister
      const earliest = yield* lister.list([tp], "earliest")
      const latest = yield* lister.list([tp], "latest")
      expect([earliest.map((o) => o.offset), latest.map((o) => o.offset)]).toEqual([[0n], [3n]])
      const fetcher = yield* Fetcher.Fetcher
      const result = yield* fetcher.fetch({
        partitions: [{ topic, partition: 1, offset: 1n, maxBytes: 1 << 20 }],
        maxWaitMs: 100,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: "read_uncommitted",
      })
      expect(result.map((r) => (r._tag === "Records" ? r.records.map((x) => `${x.offset}`) : r.error._tag))).toEqual([["1", "2"]])
      expect(RealKafka.version()).not.toBe("")
    }).pipe(Effect.provide(KafkaClient.layer({ brokers: RealKafka.brokers() }))),
  )
})
