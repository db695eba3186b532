/**
 * core's Consumer over the in-memory broker: what a user sees when the log moves under a running
 * consumer. Deterministic: the broker and the consumer run on TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, Fiber, Logger, Option, Queue, Stream, TestClock } from "effect"
import { TestBroker } from "../../src/index.js"
import { values } from "./helpers.js"

const t0 = TopicPartition.make("t", 0)

/** Collects warning-and-above messages. */
const captureWarnings = (sink: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning" || logLevel._tag === "Error") sink.push(String(Array.isArray(message) ? message[0] : message))
    }),
  )

const take = (consumer: Consumer.Service, n: number) =>
  Effect.map(consumer.records.pipe(Stream.take(n), Stream.runCollect), (chunk) =>
    Chunk.toReadonlyArray(chunk).map((r) => `${r.offset}:${ConsumerRecord.utf8(r.value)}`),
  )

describe("Consumer over the in-memory broker", () => {
  it.scoped("a retention cut behind the consumer: one warning, one event, consumption goes on at the log start", () => {
    const warnings: Array<string> = []
    return Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } })
      const events = yield* consumer.subscribeEvents
      yield* broker.produce("t", 0, values("a", "b", "c"))
      yield* consumer.assign([t0])
      expect(yield* take(consumer, 3)).toEqual(["0:a", "1:b", "2:c"])
      yield* broker.produce("t", 0, values("d", "e", "f", "g"))
      yield* broker.deleteRecords(t0, 5n)
      expect(yield* take(consumer, 2)).toEqual(["5:f", "6:g"])
      const [event] = yield* Queue.takeAll(events)
      expect([event.requestedOffset, event.earliest, event.latest, event.newOffset, event.skipped]).toEqual([3n, 5n, 7n, 5n, 2n])
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("Offset out of range")
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } })), Effect.provide(captureWarnings(warnings)))
  })

  it.scoped("compaction holes inside the range: later records arrive, no reset, no warning", () => {
    const warnings: Array<string> = []
    return Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } })
      yield* broker.produce("t", 0, [
        { key: "a", value: "a1" },
        { key: "b", value: "b1" },
        { key: "a", value: "a2" },
        { key: "b", value: "b2" },
        { key: "c", value: "c1" },
      ])
      yield* broker.compact(t0)
      yield* consumer.assign([t0])
      expect(yield* take(consumer, 3)).toEqual(["2:a2", "3:b2", "4:c1"])
      expect(warnings).toEqual([])
      const log = yield* broker.requests
      expect(log.filter((e) => e.errors !== undefined && e.errors.length > 0)).toEqual([])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } })), Effect.provide(captureWarnings(warnings)))
  })

  it.scoped("a log whose tail is compaction holes: nextOffset moves the consumer to the high watermark", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } })
      yield* broker.produce("t", 0, [
        { key: "a", value: "a1" },
        { key: "a", value: "a2" },
        { key: "a", value: "a3" },
      ])
      yield* broker.compact(t0) // keeps offset 2
      yield* broker.truncate(t0, 2n) // drops it: [0, 2) holds no record
      yield* consumer.assign([t0])
      const next = yield* Effect.fork(take(consumer, 1))
      yield* TestClock.adjust("100 millis")
      expect(Option.isNone(yield* Fiber.poll(next))).toBe(true)
      expect(yield* consumer.position(t0)).toBe(2n)
      yield* broker.produce("t", 0, values("z"))
      expect(yield* Fiber.join(next)).toEqual(["2:z"])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.scoped("a truncation under the consumer: it resets to the new end and gets the next record produced", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } })
      yield* broker.produce("t", 0, values("a", "b", "c", "d"))
      yield* consumer.assign([t0])
      expect(yield* take(consumer, 4)).toEqual(["0:a", "1:b", "2:c", "3:d"])
      yield* broker.truncate(t0, 2n)
      const next = yield* Effect.fork(take(consumer, 1))
      yield* TestClock.adjust("50 millis")
      yield* broker.produce("t", 0, values("C"))
      expect(yield* Fiber.join(next)).toEqual(["2:C"])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )
})
