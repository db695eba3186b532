/**
 * The Producer against the testkit's embedded wire broker (3 brokers): records read back by our
 * Consumer, and what the broker stored (batch attributes, producer ids, sequences) read from its model.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { BrokerModel, EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect, Schedule, Stream } from "effect"
import * as Producer from "../src/Producer.js"
import { ambiguousSend } from "./harness/AmbiguousSend.js"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"

const readBack = (partitions: ReadonlyArray<TopicPartition.TopicPartition>, count: number) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
    yield* consumer.assign(partitions)
    yield* consumer.seekToBeginning()
    return [...(yield* consumer.records.pipe(Stream.take(count), Stream.runCollect))]
  }).pipe(Effect.scoped)

const producer = (options: Omit<Producer.ProducerOptions, "brokers"> = {}) =>
  Effect.flatMap(EmbeddedBroker.EmbeddedBroker, (b) => Producer.make({ ...options, brokers: b.brokers }))

const embedded = EmbeddedClient.layer(3, {}, { autoCreateTopics: true })

describe("Producer over the embedded wire broker", () => {
  it.scopedLive("round trip over three leaders: keys, values, headers, timestamps; baseOffsets as stored", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.createTopic("orders", 3)
      const p = yield* producer()
      const sent = yield* p.send(
        "orders",
        Array.from({ length: 9 }, (_, i) => ({ key: `k${i % 3}`, value: `v${i}`, headers: { n: `${i}` }, timestamp: 1_000 + i })),
      )
      expect(sent.map((m) => m.baseOffset)).toEqual(sent.map(() => 0n))
      const got = yield* readBack([0, 1, 2].map((p) => TopicPartition.make("orders", p)), 9)
      const byValue = new Map(got.map((r) => [ConsumerRecord.utf8(r.value), r]))
      for (let i = 0; i < 9; i++) {
        const r = byValue.get(`v${i}`)!
        expect([ConsumerRecord.utf8(r.key), r.headers.map((h) => [h.key, ConsumerRecord.utf8(h.value)?.slice(0, 3)]), r.timestamp]).toEqual([
          `k${i % 3}`,
          // the user's header, then the traceparent of the send's span (version 00)
          [["n", `${i}`], ["traceparent", "00-"]],
          1_000 + i,
        ])
      }
      for (const key of ["k0", "k1", "k2"]) {
        expect(new Set(got.filter((r) => ConsumerRecord.utf8(r.key) === key).map((r) => r.partition)).size).toBe(1)
      }
    }).pipe(Effect.provide(embedded)),
  )

  it.scopedLive("gzip: the stored batch carries codec 1; idempotent: one producer id, sequences 0, 5, 10", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const model = yield* BrokerModel.BrokerModel
      yield* broker.createTopic("zipped", 1)
      const p = yield* producer({ compression: "gzip", idempotent: true })
      for (let s = 0; s < 3; s++) {
        yield* p.send("zipped", Array.from({ length: 5 }, (_, i) => ({ value: `${"x".repeat(500)}${s * 5 + i}` })))
      }
      const batches = yield* model.batches(TopicPartition.make("zipped", 0))
      expect(batches.map((b) => [b.baseOffset, b.attributes & 0x07, b.baseSequence])).toEqual([
        [0n, 1, 0],
        [5n, 1, 5],
        [10n, 1, 10],
      ])
      expect(new Set(batches.map((b) => b.producerId)).size).toBe(1)
      expect(batches[0]!.producerId >= 0n).toBe(true)
      const got = yield* readBack([TopicPartition.make("zipped", 0)], 15)
      expect(got.map((r) => ConsumerRecord.utf8(r.value)!.slice(500))).toEqual(Array.from({ length: 15 }, (_, i) => `${i}`))
    }).pipe(Effect.provide(embedded)),
  )

  it.scopedLive("auto-creation off: an unknown topic is ProduceError UnknownTopicOrPartition; on: the broker creates it", () =>
    Effect.gen(function* () {
      const off = yield* producer({ allowAutoTopicCreation: false, retrySchedule: Schedule.recurs(1) })
      const error = yield* Effect.flip(off.send("nowhere", [{ value: "x" }]))
      expect(error).toMatchObject({ _tag: "ProduceError", reason: "UnknownTopicOrPartition", topic: "nowhere", retriable: true })
      const on = yield* producer({ allowAutoTopicCreation: true })
      const [meta] = yield* on.send("somewhere", [{ value: "y" }])
      expect([meta!.topic, meta!.baseOffset]).toEqual(["somewhere", 0n])
    }).pipe(Effect.provide(embedded)),
  )

  it.scopedLive("idempotent: after a send that failed but was written, the next send is written and acknowledged where it is", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.createTopic("ambiguous", 1)
      const brokers = (yield* EmbeddedBroker.EmbeddedBroker).brokers
      const outcome = yield* ambiguousSend(brokers, "ambiguous")
      expect(outcome).toEqual({ firstFailed: "ProduceError", secondAckedAt: 2n, stored: ["0:first", "1:lost?", "2:second"] })
    }).pipe(Effect.provide(EmbeddedClient.layer(1, {}, { autoCreateTopics: true }))),
  20_000)
})
