/**
 * Spans and metrics to OpenTelemetry with `@effect/opentelemetry`: typed orders are sent inside a
 * `checkout` span (the Producer writes that trace into each record's `traceparent` header), read
 * back, decoded with a Schema, and each one processed in a span that continues the producer's trace.
 * Exported by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (a collector, Jaeger, Tempo …),
 * otherwise printed by the SDK's console exporters.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/otel.ts orders
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/otel.ts orders
 */
import { NodeSdk, Otlp } from "@effect/opentelemetry"
import { FetchHttpClient } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerMetrics, RecordSchema, TopicPartition, Tracing } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Console, Effect, Layer, Metric, Option, Schema, Stream } from "effect"

const [topic = "orders"] = process.argv.slice(2)

const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })
const orders = Producer.withSchema(RecordSchema.json(Order))

const program = Effect.gen(function* () {
  const [sent] = yield* Effect.gen(function* () {
    const span = yield* Effect.currentSpan
    yield* Console.log(`checkout trace ${span.traceId}`)
    return yield* orders.send(topic, [1, 2, 3].map((id) => ({ value: { id, item: `item ${id}` }, partition: 0 })))
  }).pipe(Effect.withSpan("checkout"))
  if (sent === undefined) return yield* Effect.dieMessage("acks all: the broker answers where the batch went")

  const consumer = yield* Consumer.Consumer
  const tp = TopicPartition.make(topic, 0)
  yield* consumer.assign([tp])
  yield* consumer.seek(tp, sent.baseOffset)
  yield* consumer.records.pipe(
    Stream.take(3),
    RecordSchema.decode({ value: RecordSchema.json(Order) }),
    Stream.runForEach((record) =>
      Effect.gen(function* () {
        const span = yield* Effect.currentSpan
        yield* Console.log(`processed order ${record.value.id} in trace ${span.traceId}`)
      }).pipe(Tracing.withRecordSpan(record, { groupId: "example-otel" })),
    ),
    Effect.withSpan("consume orders"),
  )
  const delivered = yield* Metric.value(ConsumerMetrics.forTopic(ConsumerMetrics.records, topic))
  yield* Console.log(`messaging.client.consumed.messages{${topic}} = ${delivered.count}`)
})

// OTLP/HTTP (JSON) to a collector when one is configured; the console otherwise.
const telemetry = Layer.unwrapEffect(
  Effect.map(Config.option(Config.nonEmptyString("OTEL_EXPORTER_OTLP_ENDPOINT")), (endpoint) =>
    Option.match(endpoint, {
      onSome: (baseUrl) =>
        Otlp.layerJson({ baseUrl, resource: { serviceName: "kafka-effect-example" } }).pipe(Layer.provide(FetchHttpClient.layer)),
      onNone: () =>
        NodeSdk.layer(() => ({
          resource: { serviceName: "kafka-effect-example" },
          spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter()),
          // Exported once more when the layer closes, so short runs print their metrics too.
          metricReader: new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 10_000 }),
        })),
    }),
  ),
)

const live = Layer.unwrapEffect(
  Effect.map(Config.array(Config.string(), "KAFKA_BROKERS"), (brokers) =>
    Layer.mergeAll(
      Producer.layer({ brokers, clientId: "example-otel" }),
      Consumer.layer({ config: { maxWait: "100 millis" } }).pipe(Layer.provide(KafkaClient.layer({ brokers, clientId: "example-otel" }))),
    ),
  ),
)

NodeRuntime.runMain(program.pipe(Effect.provide(live), Effect.provide(telemetry)))
