/**
 * OpenTelemetry's SDK with in-memory exporters behind `@effect/opentelemetry`: Effect's spans and
 * metrics as an OTel backend receives them. Spans are exported as they end; metrics when `collect`
 * flushes the reader.
 */
import { NodeSdk } from "@effect/opentelemetry"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  type DataPoint,
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Context, Effect, Layer } from "effect"

export class Otel extends Context.Tag("test/Otel")<Otel, {
  readonly spans: Effect.Effect<ReadonlyArray<ReadableSpan>>
  /** Flushes the metric reader; the data points of `name` whose attributes include `attributes`. */
  readonly points: (name: string, attributes: Readonly<Record<string, string>>) => Effect.Effect<ReadonlyArray<DataPoint<unknown>>>
}>() {}

/** `Otel` for reading, with the SDK as Effect's tracer and metric exporter for whatever runs inside. */
export const layer: Layer.Layer<Otel> = Layer.unwrapEffect(Effect.sync(() => {
  const spanExporter = new InMemorySpanExporter()
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // Exported on demand only (forceFlush): the interval is longer than any test.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
  const sdk = NodeSdk.layer(() => ({
    resource: { serviceName: "kafka-effect-test" },
    spanProcessor: new SimpleSpanProcessor(spanExporter),
    metricReader: reader,
  }))
  return Layer.merge(sdk, Layer.succeed(Otel, {
    spans: Effect.sync(() => spanExporter.getFinishedSpans()),
    points: (name, attributes) =>
      Effect.promise(async () => {
        metricExporter.reset()
        await reader.forceFlush()
        return metricExporter
          .getMetrics()
          .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
          .filter((m) => m.descriptor.name === name)
          .flatMap((m): ReadonlyArray<DataPoint<unknown>> => m.dataPoints)
          .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
      }),
  }))
}))

/** The names from `span` up to the root, following parent span ids among `spans`. */
export const ancestry = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan): ReadonlyArray<string> => {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]))
  const out: Array<string> = []
  for (let s: ReadableSpan | undefined = span; s !== undefined; s = byId.get(s.parentSpanContext?.spanId ?? "")) out.push(s.name)
  return out
}
