/**
 * Real Apache Kafka answers kafkajs's admin (topic creation), our Producer and our KafkaClient
 * (ListOffsets, Fetch) on a topic of its own: the suite's shared broker (the pinned 4.x), and a 3.9 node started
 * here, for users still on 3.x.
 */
import { describe, expect, it } from "@effect/vitest"
import { Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { ApacheKafka } from "@kafka-effect/testkit"
import { Effect } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"
import * as RealKafka from "./harness/RealKafka.js"

const roundTrip = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const topic = RealKafka.topicName("smoke")
    const kafka = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.connect()),
      () => Effect.promise(() => admin.disconnect()),
    )
    yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }))
    const producer = yield* Producer.make({ brokers })
    const written = yield* producer.send(topic, ["a", "b", "c"].map((value) => ({ value, partition: 1 })))
    expect(written.map((w) => [w.partition, w.baseOffset])).toEqual([[1, 0n]])
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
  }).pipe(Effect.provide(KafkaClient.layer({ brokers })))

describe("real Apache Kafka", () => {
  it.scoped("the suite's broker serves our Producer and KafkaClient: produce 3 records, list [0, 3), fetch from 1", () =>
    Effect.gen(function* () {
      expect(RealKafka.version()).not.toBe("")
      yield* roundTrip(RealKafka.brokers())
    }),
  )

  it.scoped(
    "Kafka 3.9.1 (started here) does the same",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ApacheKafka.make({ version: "3.9.1" })
        expect(cluster.version).toBe("3.9.1")
        yield* roundTrip(cluster.brokers)
      }),
    120_000,
  )
})
