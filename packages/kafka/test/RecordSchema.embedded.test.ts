/**
 * Schema-typed values end to end over the embedded wire broker: the Producer encodes with a Schema,
 * the consumer's stream decodes with the same one, and a record that does not decode (sent raw, in
 * the middle) meets each policy: fail, skip with a warning, a dead-letter topic through the Producer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, RecordSchema, TopicPartition } from "@kafka-effect/core"
import { EmbeddedBroker, TestBroker, TestKit } from "@kafka-effect/testkit"
import { Chunk, Effect, Layer, Ref, Schema, Stream } from "effect"
import * as Producer from "../src/Producer.js"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"

const Order = Schema.Struct({ id: Schema.Number.pipe(Schema.nonNegative()), item: Schema.String })
const OrderJson = RecordSchema.json(Order)
const orders = Producer.withSchema(OrderJson, RecordSchema.utf8(Schema.String))

const producerLayer = Layer.unwrapEffect(
  Effect.map(EmbeddedBroker.EmbeddedBroker, (b) => Producer.layer({ brokers: b.brokers, propagateTrace: false })),
)
const embedded = EmbeddedClient.layer(1)
const layer = Layer.provideMerge(producerLayer, embedded)

/** orders 0–2, a value that is not JSON at offset 3, orders 4–5; all on partition 0 of `topic`. */
const seed = (topic: string) =>
  Effect.gen(function* () {
    yield* (yield* TestBroker.TestBroker).createTopic(topic, 1)
    const producer = yield* Producer.Producer
    const order = (id: number) => ({ key: `o-${id}`, value: { id, item: `item ${id}` }, partition: 0 })
    yield* orders.send(topic, [0, 1, 2].map(order))
    yield* producer.send(topic, [{ key: "o-3", value: "{oops", partition: 0 }])
    yield* orders.send(topic, [4, 5].map(order))
  })

const fromStart = (topic: string) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
    yield* consumer.assign([TopicPartition.make(topic, 0)])
    yield* consumer.seekToBeginning()
    return consumer
  })

const ids = (records: Iterable<{ readonly value: { readonly id: number } }>) => [...records].map((r) => r.value.id)

describe("Schema values over the embedded wire broker", () => {
  it.scopedLive("fail: the orders before the bad record, then RecordDecodeError with topic, partition, offset and the issue", () =>
    Effect.gen(function* () {
      yield* seed("schema-fail")
      const consumer = yield* fromStart("schema-fail")
      const seen = yield* Ref.make<Array<number>>([])
      const error = yield* consumer.records.pipe(
        RecordSchema.decode({ value: OrderJson }),
        Stream.runForEach((r) => Ref.update(seen, (s) => [...s, r.value.id])),
        Effect.flip,
      )
      expect(yield* Ref.get(seen)).toEqual([0, 1, 2])
      if (error._tag !== "RecordDecodeError") return expect.unreachable(`not a decode error: ${error._tag}`)
      expect(error).toMatchObject({ _tag: "RecordDecodeError", topic: "schema-fail", partition: 0, offset: 3n, field: "value" })
      expect(ConsumerRecord.utf8(error.record.value)).toBe("{oops")
      expect(error.issue).toMatch(/JSON/)
    }).pipe(Effect.provide(layer)),
  )

  it.scopedLive("skip: one warning naming the record, and the stream goes on past it; keys decode too", () =>
    Effect.gen(function* () {
      yield* seed("schema-skip")
      const consumer = yield* fromStart("schema-skip")
      const capture = yield* TestKit.makeLogCapture()
      const got = yield* consumer.records.pipe(
        RecordSchema.decode({ value: OrderJson, key: RecordSchema.utf8(Schema.String), onError: "skip" }),
        Stream.take(5),
        Stream.runCollect,
        Effect.provide(capture.layer),
      )
      expect(ids(got)).toEqual([0, 1, 2, 4, 5])
      expect(Chunk.toReadonlyArray(got).map((r) => r.key)).toEqual(["o-0", "o-1", "o-2", "o-4", "o-5"])
      expect((yield* capture.warnings).map((w) => w.annotations)).toEqual([expect.objectContaining({ topic: "schema-skip", partition: 0, offset: "3", field: "value" })])
    }).pipe(Effect.provide(layer)),
  )

  it.scopedLive("dead letter: the bad record goes to a dead-letter topic through the Producer, raw, with the issue in its headers", () =>
    Effect.gen(function* () {
      yield* seed("schema-dlq")
      yield* (yield* TestBroker.TestBroker).createTopic("schema-dlq.dead", 1)
      const producer = yield* Producer.Producer
      const consumer = yield* fromStart("schema-dlq")
      const deadLetter = (e: RecordSchema.RecordDecodeError) =>
        producer.send("schema-dlq.dead", [
          {
            key: e.record.key,
            value: e.record.value,
            headers: { "dlq.topic": e.topic, "dlq.partition": String(e.partition), "dlq.offset": String(e.offset), "dlq.issue": e.issue },
          },
        ])
      const got = yield* consumer.records.pipe(
        RecordSchema.decode({ value: OrderJson, onError: deadLetter }),
        Stream.take(5),
        Stream.runCollect,
      )
      expect(ids(got)).toEqual([0, 1, 2, 4, 5])

      const dead = yield* fromStart("schema-dlq.dead")
      const [letter] = yield* dead.records.pipe(Stream.take(1), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      const headers = Object.fromEntries(letter!.headers.map((h) => [h.key, ConsumerRecord.utf8(h.value)]))
      expect([ConsumerRecord.utf8(letter!.key), ConsumerRecord.utf8(letter!.value)]).toEqual(["o-3", "{oops"])
      expect(headers).toMatchObject({ "dlq.topic": "schema-dlq", "dlq.partition": "0", "dlq.offset": "3" })
      expect(headers["dlq.issue"]).toMatch(/JSON/)
    }).pipe(Effect.provide(layer)),
  )

  it.scopedLive("the Producer encodes with the schema: a value it refuses is RecordEncodeError, and nothing of the send is written", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* broker.createTopic("schema-encode", 1)
      const error = yield* Effect.flip(
        orders.send("schema-encode", [
          { value: { id: 1, item: "ok" }, partition: 0 },
          { value: { id: -1, item: "negative" }, partition: 0 },
        ]),
      )
      if (error._tag !== "RecordEncodeError") return expect.unreachable(`not an encode error: ${error._tag}`)
      expect(error).toMatchObject({ _tag: "RecordEncodeError", topic: "schema-encode", index: 1, field: "value" })
      expect(error.issue).toMatch(/non-negative|>= 0/)
      expect((yield* broker.partitionState(TopicPartition.make("schema-encode", 0))).highWatermark).toBe(0n)
    }).pipe(Effect.provide(layer)),
  )
})
