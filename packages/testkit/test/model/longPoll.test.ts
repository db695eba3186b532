import { describe, expect, it } from "@effect/vitest"
import { Fetcher } from "@kafka-effect/core"
import { Clock, Effect, Fiber, Option, TestClock } from "effect"
import { TestBroker } from "../../src/index.js"
import { fetchRequest, summary, tp, values } from "./helpers.js"

const withBroker = TestBroker.layer({ topics: { t: 2 } })

describe("BrokerModel long poll", () => {
  it.effect("waits on the Clock and wakes as soon as a produce arrives", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const fiber = yield* Effect.fork(
        fetcher.fetch(
          fetchRequest(
            [
              ["t", 0, 0n],
              ["t", 1, 0n],
            ],
            { maxWaitMs: 5000 },
          ),
        ),
      )
      yield* TestClock.adjust("3 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* broker.produce("t", 1, values("hello"))
      const results = yield* Fiber.join(fiber)
      expect(summary(results)).toEqual([
        { tp: "t-0", offsets: [], values: [] },
        { tp: "t-1", offsets: [0n], values: ["hello"] },
      ])
      expect(yield* Clock.currentTimeMillis).toBe(3000)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("answers empty after maxWaitMs when nothing arrives", () =>
    Effect.gen(function* () {
      const fetcher = yield* Fetcher.Fetcher
      const broker = yield* TestBroker.TestBroker
      const fiber = yield* Effect.fork(fetcher.fetch(fetchRequest([["t", 0, 0n]], { maxWaitMs: 500 })))
      yield* TestClock.adjust("499 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const results = yield* Fiber.join(fiber)
      expect(summary(results)).toEqual([{ tp: "t-0", offsets: [], values: [] }])
      const log = yield* broker.requests
      expect(log.map((e) => [e.api, e.at, e.outcome])).toEqual([["Fetch", 0, "ok"]])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("does not wait when a partition has data or an error", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a"))
      const withData = yield* fetcher.fetch(
        fetchRequest(
          [
            ["t", 0, 0n],
            ["t", 1, 0n],
          ],
          { maxWaitMs: 10_000 },
        ),
      )
      expect(summary(withData)[0]).toMatchObject({ offsets: [0n] })
      const withError = yield* fetcher.fetch(
        fetchRequest(
          [
            ["t", 0, 9n],
            ["t", 1, 0n],
          ],
          { maxWaitMs: 10_000 },
        ),
      )
      expect(summary(withError)).toEqual([
        { tp: "t-0", error: "OffsetOutOfRange" },
        { tp: "t-1", offsets: [], values: [] },
      ])
      expect(yield* Clock.currentTimeMillis).toBe(0)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("holds the request until minBytes have accumulated or the wait ends", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const fiber = yield* Effect.fork(fetcher.fetch(fetchRequest([["t", 0, 0n]], { maxWaitMs: 1000, minBytes: 6 })))
      yield* TestClock.adjust("100 millis")
      yield* broker.produce("t", 0, values("abc"))
      yield* TestClock.adjust("100 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* broker.produce("t", 0, values("def"))
      expect(summary(yield* Fiber.join(fiber))).toEqual([{ tp: "t-0", offsets: [0n, 1n], values: ["abc", "def"] }])
      expect(yield* Clock.currentTimeMillis).toBe(200)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("a truncation under a waiting fetch wakes it with the out-of-range answer", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a", "b", "c"))
      const fiber = yield* Effect.fork(fetcher.fetch(fetchRequest([["t", 0, 3n]], { maxWaitMs: 1000 })))
      yield* TestClock.adjust("10 millis")
      yield* broker.truncate(tp("t", 0), 1n)
      expect(summary(yield* Fiber.join(fiber))).toEqual([{ tp: "t-0", error: "OffsetOutOfRange" }])
      expect(yield* Clock.currentTimeMillis).toBe(10)
    }).pipe(Effect.provide(withBroker)),
  )
})
