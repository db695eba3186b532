/**
 * Spans and metrics as an OpenTelemetry backend sees them (`@effect/opentelemetry`, the SDK's
 * in-memory exporters), with the kafka package's client over the embedded wire broker: the span tree
 * of an out-of-range reset and the metric values after it; a trace that crosses Kafka in a record's
 * `traceparent` header.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, TopicPartition, Tracing } from "@kafka-effect/core"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { SpanKind } from "@opentelemetry/api"
import { Chunk, Effect, Stream } from "effect"
import * as Producer from "../src/Producer.js"
import * as EmbeddedClient from "./harness/EmbeddedClient.js"
import * as Otel from "./harness/Otel.js"

const embedded = EmbeddedClient.layer(1)
// The SDK clears its in-memory exporters when it shuts down: the assertions run inside the layer.
const otelLayer = Otel.layer

describe("OpenTelemetry over the embedded wire broker", () => {
  it.scopedLive("a reset: consumer span → recovery span → list offsets per broker, with attributes; resets 1 and skipped N after it", () =>
    Effect.gen(function* () {
      const otel = yield* Otel.Otel
      const topic = "otel-reset"
      const tp = TopicPartition.make(topic, 0)
      yield* Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        yield* broker.createTopic(topic, 1)
        yield* broker.produce(topic, 0, Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })))
        yield* broker.deleteRecords(tp, 6n)
        const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
        yield* consumer.assign([tp])
        yield* consumer.seek(tp, 2n)
        const got = yield* consumer.records.pipe(Stream.take(4), Stream.runCollect, Effect.withSpan("consumer test"))
        expect(Chunk.toReadonlyArray(got).map((r) => r.offset)).toEqual([6n, 7n, 8n, 9n])
      }).pipe(Effect.provide(embedded), Effect.scoped)

      const spans = yield* otel.spans
      const recovery = spans.filter((s) => s.name === "OffsetRecovery.recover")
      expect(recovery).toHaveLength(1)
      const recover = recovery[0]!
      expect(Otel.ancestry(spans, recover).at(-1)).toBe("consumer test")
      expect(recover.attributes).toMatchObject({
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 2,
        "kafka.recovery.policy": "nearest",
        "kafka.recovery.earliest": 6,
        "kafka.recovery.latest": 10,
        "kafka.recovery.new_offset": 6,
        "kafka.recovery.offsets_skipped": 4,
      })
      // The recovery's one round trip: earliest and latest, each one request to the partition's leader.
      const listed = spans.filter((s) => s.name.startsWith("list_offsets") && Otel.ancestry(spans, s).includes("OffsetRecovery.recover"))
      expect(listed.map((s) => s.name).sort()).toEqual(["list_offsets earliest", "list_offsets latest"])
      for (const s of listed) {
        expect(Otel.ancestry(spans, s).slice(0, 3)).toEqual([s.name, "KafkaClient.listOffsets", "OffsetRecovery.recover"])
        expect(s.kind).toBe(SpanKind.CLIENT)
        expect(s.attributes).toMatchObject({
          "messaging.system": "kafka",
          "messaging.operation.name": "list_offsets",
          "messaging.destination.name": topic,
          "messaging.destination.partition.id": "0",
          "messaging.client.id": "kafka-effect",
          "server.address": expect.any(String),
          "server.port": expect.any(Number),
        })
      }

      const tags = { "messaging.destination.name": topic, "messaging.system": "kafka" }
      const value = (points: ReadonlyArray<{ readonly value: unknown }>) => points.map((p) => p.value)
      expect(value(yield* otel.points("kafka.consumer.offset_resets", tags))).toEqual([1])
      expect(value(yield* otel.points("kafka.consumer.offsets_skipped", tags))).toEqual([4])
      expect(value(yield* otel.points("messaging.client.consumed.messages", tags))).toEqual([4])
      expect(value(yield* otel.points("kafka.consumer.records_lag", { ...tags, "messaging.destination.partition.id": "0" }))).toEqual([0])
      const durations = yield* otel.points("messaging.client.operation.duration", { "messaging.operation.name": "list_offsets" })
      expect(durations.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(otelLayer)),
  )

  it.scopedLive("a trace crosses Kafka: the consumer's process span is a child of the producer's send span", () =>
    Effect.gen(function* () {
      const otel = yield* Otel.Otel
      const topic = "otel-trace"
      const tp = TopicPartition.make(topic, 0)
      yield* Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        yield* broker.createTopic(topic, 1)
        const producer = yield* Effect.flatMap(EmbeddedBroker.EmbeddedBroker, (b) => Producer.make({ brokers: b.brokers }))
        yield* producer.send(topic, [{ value: "paid" }]).pipe(Effect.withSpan("checkout"))
        const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
        yield* consumer.assign([tp])
        yield* consumer.seekToBeginning()
        yield* consumer.records.pipe(
          Stream.take(1),
          Stream.runForEach((record) =>
            Effect.logDebug(ConsumerRecord.utf8(record.value)).pipe(Tracing.withRecordSpan(record, { groupId: "billing" })),
          ),
          Effect.withSpan("consumer test"),
        )
      }).pipe(Effect.provide(embedded), Effect.scoped)

      const spans = yield* otel.spans
      const checkout = spans.find((s) => s.name === "checkout")!
      const send = spans.find((s) => s.name === "Producer.send")!
      const processed = spans.find((s) => s.name === `process ${topic}`)!
      const consumer = spans.find((s) => s.name === "consumer test")!
      expect(send.parentSpanContext?.spanId).toBe(checkout.spanContext().spanId)
      // One trace from the checkout to the processing, through the record's header.
      expect(processed.spanContext().traceId).toBe(checkout.spanContext().traceId)
      expect(processed.parentSpanContext?.spanId).toBe(send.spanContext().spanId)
      expect(processed.kind).toBe(SpanKind.CONSUMER)
      // The consumer's own span is kept as a link.
      expect(processed.links.map((l) => l.context.spanId)).toEqual([consumer.spanContext().spanId])
      expect(processed.attributes).toMatchObject({
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 0,
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": "billing",
      })
      expect(send.kind).toBe(SpanKind.PRODUCER)
    }).pipe(Effect.provide(otelLayer)),
  )

  it.scopedLive("the fetch spans: one Consumer.consume per run, a Consumer.fetchLoop per broker under it, each Consumer.fetch under its loop with broker, partitions and records", () =>
    Effect.gen(function* () {
      const otel = yield* Otel.Otel
      const topic = "otel-fetch"
      yield* Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        yield* broker.createTopic(topic, 2)
        yield* broker.produce(topic, 0, [{ value: "a" }, { value: "b" }])
        const consumer = yield* Consumer.make({ config: { maxWait: "50 millis", autoOffsetReset: "earliest" } })
        yield* consumer.assign([TopicPartition.make(topic, 0), TopicPartition.make(topic, 1)])
        const got = yield* consumer.records.pipe(Stream.take(2), Stream.runCollect, Effect.withSpan("consumer test"))
        expect(Chunk.size(got)).toBe(2)
      }).pipe(Effect.provide(embedded), Effect.scoped)

      const spans = yield* otel.spans
      expect(spans.filter((s) => s.name === "Consumer.consume")).toHaveLength(1)
      const loops = spans.filter((s) => s.name === "Consumer.fetchLoop")
      expect(loops).toHaveLength(1)
      expect(Otel.ancestry(spans, loops[0]!)).toEqual(["Consumer.fetchLoop", "Consumer.consume", "consumer test"])
      expect(loops[0]!.attributes).toMatchObject({ "messaging.kafka.broker.id": 0 })
      const fetches = spans.filter((s) => s.name === "Consumer.fetch")
      expect(fetches.length).toBeGreaterThanOrEqual(1)
      // no fetch is a root span: every one sits under its loop, under the run
      for (const f of fetches) expect(Otel.ancestry(spans, f).slice(0, 4)).toEqual(["Consumer.fetch", "Consumer.fetchLoop", "Consumer.consume", "consumer test"])
      const first = fetches.find((f) => f.attributes["messaging.batch.message_count"] === 2)
      expect(first?.attributes).toMatchObject({ "messaging.kafka.broker.id": 0, "messaging.kafka.partitions": 2 })
      // the fetch latency is recorded, one point per fetch
      const durations = yield* otel.points("messaging.client.operation.duration", { "messaging.operation.name": "fetch" })
      expect(durations.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(otelLayer)),
  )
})
