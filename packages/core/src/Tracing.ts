/**
 * Tracing across Kafka: W3C trace context in a record's `traceparent` header, and spans with
 * OpenTelemetry's messaging attributes. The Producer writes the `traceparent` of its send span into
 * every record it sends; `withRecordSpan` continues that trace on the consumer side.
 *
 * Parent or link: OpenTelemetry's messaging conventions link a consumer's span to the message's
 * creation context, and allow it as the parent when one message is processed alone. A record is
 * processed alone here, so by default (`mode: "parent"`) the process span is a child of the
 * producer's span, the trace continues across Kafka, and the span the consumer ran under (its
 * consumer span) is kept as a link. With `mode: "link"` the span stays under the consumer's span
 * and links to the producer's (for batch processing, where one span covers many records).
 *
 * Pure Effect: the spans reach OpenTelemetry through `@effect/opentelemetry`'s tracer, whose span
 * and trace ids are the ones written here.
 *
 * @since 0.1.0
 */
import { Effect, Option, Tracer } from "effect"
import type { ConsumerRecord, RecordHeader } from "./ConsumerRecord.js"

/**
 * The header name of W3C trace context.
 *
 * @since 0.1.0
 * @category trace context
 */
export const traceparentHeader = "traceparent"

/**
 * OpenTelemetry's messaging attribute names, as the spans of this package use them.
 *
 * @since 0.1.0
 * @category attributes
 */
export const attributes = {
  system: "messaging.system",
  topic: "messaging.destination.name",
  partition: "messaging.destination.partition.id",
  offset: "messaging.kafka.offset",
  key: "messaging.kafka.message.key",
  group: "messaging.consumer.group.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  clientId: "messaging.client.id",
  batchCount: "messaging.batch.message_count",
  serverAddress: "server.address",
  serverPort: "server.port",
} as const

/**
 * The W3C `traceparent` of a span: `00-<trace id>-<span id>-<flags>`.
 *
 * @since 0.1.0
 * @category trace context
 */
export const format = (span: Tracer.AnySpan): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

const hex = /^[0-9a-f]+$/

/**
 * Reads a W3C `traceparent`. Anything malformed (wrong lengths, upper case, all-zero ids, version
 * `ff`) is `None`, as the W3C spec asks: a bad header starts a new trace, it never fails.
 *
 * @since 0.1.0
 * @category trace context
 */
export const parse = (value: string): Option.Option<Tracer.ExternalSpan> => {
  const parts = value.trim().split("-")
  if (parts.length < 4) return Option.none()
  const [version, traceId, spanId, flags] = parts
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return Option.none()
  if (version.length !== 2 || !hex.test(version) || version === "ff") return Option.none()
  // Version 00 has exactly four fields; later versions may append more.
  if (version === "00" && parts.length !== 4) return Option.none()
  if (traceId.length !== 32 || !hex.test(traceId) || /^0+$/.test(traceId)) return Option.none()
  if (spanId.length !== 16 || !hex.test(spanId) || /^0+$/.test(spanId)) return Option.none()
  if (flags.length !== 2 || !hex.test(flags)) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }))
}

const decoder = new TextDecoder()

/**
 * The value of the last `traceparent` header of a record's headers, if any.
 *
 * @since 0.1.0
 * @category trace context
 */
export const traceparentOf = (headers: ReadonlyArray<RecordHeader>): Option.Option<string> => {
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i]
    if (h !== undefined && h.key === traceparentHeader && h.value !== null) return Option.some(decoder.decode(h.value))
  }
  return Option.none()
}

/**
 * The producer's span a record carries in its `traceparent` header; `None` without one or when it is malformed.
 *
 * @since 0.1.0
 * @category trace context
 */
export const parentOf = (record: Pick<ConsumerRecord, "headers">): Option.Option<Tracer.ExternalSpan> =>
  Option.flatMap(traceparentOf(record.headers), parse)

/**
 * The `traceparent` of the current span; `None` outside any span.
 *
 * @since 0.1.0
 * @category trace context
 */
export const currentTraceparent: Effect.Effect<Option.Option<string>> = Effect.map(
  Effect.option(Effect.currentSpan),
  Option.map(format),
)

/**
 * Messaging attributes of one record.
 *
 * @since 0.1.0
 * @category attributes
 */
export const recordAttributes = (
  record: Pick<ConsumerRecord, "topic" | "partition" | "offset">,
): Record<string, string | number> => ({
  [attributes.system]: "kafka",
  [attributes.topic]: record.topic,
  [attributes.partition]: String(record.partition),
  [attributes.offset]: Number(record.offset),
})

/**
 * Options of a span around the processing of one record.
 *
 * @since 0.1.0
 * @category options
 */
export interface RecordSpanOptions {
  /** Default `process <topic>` (OpenTelemetry's `{operation} {destination}`). */
  readonly name?: string
  /** `parent` (default): the producer's span is the parent; `link`: it is a link, the current span stays the parent. */
  readonly mode?: "parent" | "link"
  /** The consumer group, as `messaging.consumer.group.name`. */
  readonly groupId?: string
  readonly attributes?: Record<string, unknown>
}

/**
 * Runs `effect` in a `process` span (kind consumer) for `record`, continuing the trace of its
 * `traceparent` header (see the module's note on parent or link). Without a valid header the span
 * is an ordinary child of the current span.
 *
 * @since 0.1.0
 * @category spans
 */
export const withRecordSpan =
  (record: Pick<ConsumerRecord, "topic" | "partition" | "offset" | "headers">, options: RecordSpanOptions = {}) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Effect.option(Effect.currentSpan), (ambient) => {
      const producer = parentOf(record)
      const spanAttributes = {
        ...recordAttributes(record),
        [attributes.operationType]: "process",
        [attributes.operationName]: "process",
        ...(options.groupId === undefined ? {} : { [attributes.group]: options.groupId }),
        ...options.attributes,
      }
      const name = options.name ?? `process ${record.topic}`
      if (Option.isNone(producer)) return Effect.withSpan(effect, name, { kind: "consumer", attributes: spanAttributes })
      const link = (span: Tracer.AnySpan): Tracer.SpanLink => ({ _tag: "SpanLink", span, attributes: {} })
      return (options.mode ?? "parent") === "parent"
        ? Effect.withSpan(effect, name, {
            kind: "consumer",
            parent: producer.value,
            links: Option.isSome(ambient) ? [link(ambient.value)] : [],
            attributes: spanAttributes,
          })
        : Effect.withSpan(effect, name, { kind: "consumer", links: [link(producer.value)], attributes: spanAttributes })
    })
