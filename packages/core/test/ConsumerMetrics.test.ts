import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Metric, MetricKey, Stream } from "effect"
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

  it.effect("tagged: the metric Metric.tagged makes (the same key, tags in the same order), with and without the fiber's labels", () =>
    Effect.gen(function* () {
      const base = Metric.counter("kafka-effect.test.tagged", { incremental: true })
      const ours = ConsumerMetrics.tagged(ConsumerMetrics.tagged(base, "a", "1"), "b", "2")
      const effects = Metric.tagged(Metric.tagged(base, "a", "1"), "b", "2")
      for (let i = 0; i < 3; i++) yield* Metric.increment(ours)
      yield* Metric.incrementBy(ours, 2).pipe(Effect.tagMetrics("group", "g"))
      yield* Metric.incrementBy(ours, 4).pipe(Effect.tagMetrics("group", "g"))
      expect((yield* Metric.value(effects)).count).toBe(3)
      expect((yield* Metric.value(Metric.tagged(effects, "group", "g"))).count).toBe(6)
      // One registry entry each, under the key Effect's own tagging gives.
      const entries = (yield* Metric.snapshot).filter((p) => p.metricKey.name === "kafka-effect.test.tagged")
      expect(entries.map((p) => p.metricKey.tags.map((t) => `${t.key}=${t.value}`)).sort()).toEqual([["a=1", "b=2"], ["a=1", "b=2", "group=g"]])
      expect(entries.every((p) => MetricKey.isMetricKey(p.metricKey))).toBe(true)
    }))
})
