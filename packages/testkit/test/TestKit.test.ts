import { describe, expect, it } from "@effect/vitest"
import { Consumer, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { Duration, Effect, Fiber, Ref, Stream, TestClock } from "effect"
import { InMemoryCoordinator, TestBroker, TestKit } from "../src/index.js"

const kit = TestKit.layer({ topics: { t: 2 } })
const t0 = TopicPartition.make("t", 0)
const t1 = TopicPartition.make("t", 1)

describe("TestKit", () => {
  it.scoped("layer: a group member needs nothing else (subscribe, records, commit on close)", () =>
    Effect.gen(function* () {
      yield* TestKit.produce("t", 0, ["a", "b"])
      yield* TestKit.produce("t", 1, [{ key: new TextEncoder().encode("k"), value: new TextEncoder().encode("c") }])
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest" } })
      const got = yield* Effect.scoped(
        Effect.gen(function* () {
          const group = yield* GroupConsumer.subscribe(consumer, ["t"], { groupId: "g" })
          const records = yield* TestKit.awaitRecords(group, 3)
          yield* group.markProcessed(records)
          return records
        }),
      )
      expect([...TestKit.describe(got)].sort()).toEqual(["t-0@0=a", "t-0@1=b", "t-1@0=c"])
      expect(yield* TestKit.committed("g", [t0, t1])).toEqual({ "t-0": 2n, "t-1": 1n })
    }).pipe(Effect.provide(kit)),
  )

  it.scoped("asMember: two members of one group are two clients to the coordinator and split the partitions", () =>
    Effect.gen(function* () {
      const member = (name: string) =>
        Effect.gen(function* () {
          const consumer = yield* Consumer.make()
          const group = yield* GroupConsumer.subscribe(consumer, ["t"], { groupId: "g" }).pipe(TestKit.asMember(name))
          return group
        })
      const a = yield* member("a")
      const b = yield* member("b")
      yield* TestKit.until(
        Effect.map(Effect.all([a.assignment, b.assignment]), ([x, y]) => x.length === 1 && y.length === 1),
        { what: "one partition each" },
      )
      const described = yield* (yield* InMemoryCoordinator.InMemoryCoordinator).describe("g")
      expect(described.members.map((m) => m.clientId).sort()).toEqual(["a", "b"])
    }).pipe(Effect.provide(kit)),
  )

  it.effect("until moves the TestClock in steps until the condition holds", () =>
    Effect.gen(function* () {
      const fired = yield* Ref.make(false)
      yield* Effect.fork(Effect.zipRight(Effect.sleep("2500 millis"), Ref.set(fired, true)))
      yield* TestKit.until(Ref.get(fired), { step: "1 second" })
      expect(yield* TestClock.currentTimeMillis).toBe(3000)
    }),
  )

  it.effect("until gives up after max with StillWaiting naming what it waited for", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(TestKit.until(Effect.succeed(false), { what: "nothing", max: "2 seconds", step: "1 second" }))
      expect(error).toMatchObject({ _tag: "StillWaiting", what: "nothing" })
      expect(Duration.toMillis(error.waited)).toBe(2000)
      expect(error.message).toBe("still waiting for nothing after 2s of TestClock time")
    }),
  )

  it.effect("advance moves exactly the duration; join returns the fiber's result or its failure", () =>
    Effect.gen(function* () {
      yield* TestKit.advance("350 millis")
      expect(yield* TestClock.currentTimeMillis).toBe(350)
      const ok = yield* Effect.fork(Effect.as(Effect.sleep("1 second"), 42))
      expect(yield* TestKit.join(ok)).toBe(42)
      const failing = yield* Effect.fork(Effect.zipRight(Effect.sleep("1 second"), Effect.fail("boom")))
      expect(yield* Effect.flip(TestKit.join(failing))).toBe("boom")
    }),
  )

  it.scoped("awaitRecords drives a consumer's long polls; nextEvent returns the reset that heals retention", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      yield* TestKit.produce("t", 0, ["a", "b", "c"])
      const consumer = yield* Consumer.make()
      yield* consumer.assign([t0])
      yield* consumer.seek(t0, 0n)
      yield* broker.deleteRecords(t0, 2n)
      const event = yield* Effect.fork(TestKit.nextEvent(consumer))
      const records = yield* TestKit.awaitRecords(consumer, 1)
      expect(TestKit.values(records)).toEqual(["c"])
      expect(yield* Fiber.join(event)).toMatchObject({ _tag: "OffsetReset", requestedOffset: 0n, newOffset: 2n, skipped: 2n })
    }).pipe(Effect.provide(kit)),
  )

  it.effect("captureLogs keeps level, message, annotations; quiet replaces the default logger", () =>
    Effect.gen(function* () {
      const [value, logs] = yield* TestKit.captureLogs(
        Effect.as(Effect.logWarning("careful").pipe(Effect.annotateLogs("topic", "t")), 1),
        { quiet: true },
      )
      expect(value).toBe(1)
      expect(logs.map((l) => [l.level, l.message, l.annotations])).toEqual([["WARN", "careful", { topic: "t" }]])
      const capture = yield* TestKit.makeLogCapture()
      yield* Effect.logInfo("one").pipe(Effect.provide(capture.layer))
      yield* Effect.logWarning("two").pipe(Effect.provide(capture.layer))
      expect((yield* capture.warnings).map((l) => l.message)).toEqual(["two"])
      yield* capture.clear
      expect(yield* capture.logs).toEqual([])
    }),
  )

  it.effect("take: the first n elements of a stream", () =>
    Effect.gen(function* () {
      expect(yield* TestKit.take(Stream.make(1, 2, 3), 2)).toEqual([1, 2])
    }),
  )
})
