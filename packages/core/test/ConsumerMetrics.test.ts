import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Stream } from "effect"
import * as ConsumerMetrics from "../src/ConsumerMetrics.js"

describe("ConsumerMetrics", () => {
  it.effect("labelled: what a stream (and the fibers it forks) counts carries the group and client id", () =>
    Effect.gen(function* () {
      const records = ConsumerMetrics.forTopic(ConsumerMetrics.records, "labelled")
      const count = Stream.fromEffect(Metric.incrementBy(records, 2))
      const forked = Stream.fromEffect(Effect.flatMap(Effect.fork(Metric.incrementBy(records, 3)), Fiber.join))
      yield* Stream.concat(count, forked).pipe(ConsumerMetrics.labelled({ groupId: "billing", clientId: "svc-1" }), Stream.runDrain)
      yield* Metric.incrementBy(records, 7)
      const labelled = records.pipe(Metric.tagged("messaging.consumer.group.name", "billing"), Metric.tagged("messaging.client.id", "svc-1"))
      expect((yield* Metric.value(labelled)).count).toBe(5)
      // outside the stream: no labels
      expect((yield* Metric.value(records)).count).toBe(7)
    }))

  it.effect("timed: one histogram observation in seconds per run", () =>
    Effect.gen(function* () {
      const h = Metric.tagged(ConsumerMetrics.fetchLatency, "test", "timed")
      yield* Effect.void.pipe(ConsumerMetrics.timed(h))
      yield* Effect.void.pipe(ConsumerMetrics.timed(h))
      expect((yield* Metric.value(h)).count).toBe(2)
    }))
})
