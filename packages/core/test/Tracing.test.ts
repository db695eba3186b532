import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { ConsumerRecord } from "../src/ConsumerRecord.js"
import * as Tracing from "../src/Tracing.js"

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const spanId = "00f067aa0ba902b7"

const withHeader = (value: string | null): ConsumerRecord => ({
  topic: "t",
  partition: 3,
  offset: 17n,
  timestamp: 0,
  key: null,
  value: null,
  headers: value === null ? [] : [{ key: "traceparent", value: new TextEncoder().encode(value) }],
})

describe("Tracing", () => {
  it("parses a W3C traceparent and formats it back", () => {
    const span = Option.getOrThrow(Tracing.parse(`00-${traceId}-${spanId}-01`))
    expect(span).toMatchObject({ _tag: "ExternalSpan", traceId, spanId, sampled: true })
    expect(Tracing.format(span)).toBe(`00-${traceId}-${spanId}-01`)
    expect(Option.getOrThrow(Tracing.parse(`00-${traceId}-${spanId}-00`)).sampled).toBe(false)
    // A later version may append fields; version 00 may not.
    expect(Option.isSome(Tracing.parse(`01-${traceId}-${spanId}-01-extra`))).toBe(true)
  })

  it.each([
    ["too few fields", `00-${traceId}-${spanId}`],
    ["extra field in version 00", `00-${traceId}-${spanId}-01-x`],
    ["version ff", `ff-${traceId}-${spanId}-01`],
    ["upper case", `00-${traceId.toUpperCase()}-${spanId}-01`],
    ["all-zero trace id", `00-${"0".repeat(32)}-${spanId}-01`],
    ["all-zero span id", `00-${traceId}-${"0".repeat(16)}-01`],
    ["short span id", `00-${traceId}-${spanId.slice(1)}-01`],
    ["not hex flags", `00-${traceId}-${spanId}-zz`],
  ])("a malformed header (%s) is None, never an error", (_, value) => {
    expect(Option.isNone(Tracing.parse(value))).toBe(true)
  })

  it.effect("withRecordSpan continues the producer's trace: parent by default, the consumer's span as a link", () =>
    Effect.gen(function* () {
      const record = withHeader(`00-${traceId}-${spanId}-01`)
      const span = yield* Effect.currentSpan.pipe(Tracing.withRecordSpan(record), Effect.withSpan("consumer"))
      expect(span.traceId).toBe(traceId)
      expect(Option.getOrThrow(span.parent).spanId).toBe(spanId)
      expect(span.links.map((l) => l.span._tag === "Span" && l.span.name)).toEqual(["consumer"])
      expect(span.name).toBe("process t")
      expect(span.kind).toBe("consumer")
      expect(Object.fromEntries(span.attributes)).toMatchObject({
        "messaging.system": "kafka",
        "messaging.destination.name": "t",
        "messaging.destination.partition.id": "3",
        "messaging.kafka.offset": 17,
        "messaging.operation.type": "process",
      })
    }))

  it.effect("mode link: the span stays under the current span and links to the producer's", () =>
    Effect.gen(function* () {
      const record = withHeader(`00-${traceId}-${spanId}-01`)
      const [outer, span] = yield* Effect.all([Effect.currentSpan, Effect.currentSpan.pipe(Tracing.withRecordSpan(record, { mode: "link" }))]).pipe(
        Effect.withSpan("consumer"),
      )
      expect(Option.getOrThrow(span.parent).spanId).toBe(outer.spanId)
      expect(span.links.map((l) => l.span.spanId)).toEqual([spanId])
    }))

  it.effect("without a header (or with a bad one) the span is a plain child of the current span", () =>
    Effect.gen(function* () {
      for (const record of [withHeader(null), withHeader("garbage")]) {
        const [outer, span] = yield* Effect.all([Effect.currentSpan, Effect.currentSpan.pipe(Tracing.withRecordSpan(record))]).pipe(
          Effect.withSpan("consumer"),
        )
        expect(Option.getOrThrow(span.parent).spanId).toBe(outer.spanId)
        expect(span.links).toEqual([])
      }
    }))

  it.effect("currentTraceparent is the current span's, None outside a span", () =>
    Effect.gen(function* () {
      expect(Option.isNone(yield* Tracing.currentTraceparent)).toBe(true)
      const [span, header] = yield* Effect.all([Effect.currentSpan, Tracing.currentTraceparent]).pipe(Effect.withSpan("send"))
      expect(Option.getOrThrow(header)).toBe(`00-${span.traceId}-${span.spanId}-01`)
    }))
})
