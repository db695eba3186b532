import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule, TestClock } from "effect"
import {
  ListOffsetsError,
  OffsetOutOfRange,
  TopicAuthorizationFailed,
} from "../src/KafkaError.js"
import * as OffsetRecovery from "../src/OffsetRecovery.js"
import type { FetchPosition } from "../src/SubscriptionState.js"
import * as TopicPartition from "../src/TopicPartition.js"
import { makeFakeBroker } from "./harness/FakeBroker.js"

const at = (partition: number, offset: bigint, previousAttempts = 0): OffsetRecovery.OutOfRange => {
  const position: FetchPosition = { topic: "t", partition, offset, epoch: 1 }
  return { position, error: new OffsetOutOfRange({ topic: "t", partition, requestedOffset: offset }), previousAttempts }
}

const setup = Effect.gen(function* () {
  const broker = yield* makeFakeBroker
  yield* broker.produce("t", 0, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
  yield* broker.produce("t", 1, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
  yield* broker.deleteRecords("t", 0, 4n)
  yield* broker.deleteRecords("t", 1, 4n)
  return broker
})

describe("OffsetRecovery", () => {
  it.effect("nearest: below the log start → earliest, past the end → latest; one round trip for all partitions", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const decisions = yield* OffsetRecovery.nearest()
        .recover([at(0, 1n), at(1, 25n)], 3)
        .pipe(Effect.provide(broker.layer))
      expect(decisions).toEqual([
        OffsetRecovery.Decision.Reset({ position: at(0, 1n).position, requestedOffset: 1n, earliest: 4n, latest: 10n, newOffset: 4n, skipped: 3n }),
        OffsetRecovery.Decision.Reset({ position: at(1, 25n).position, requestedOffset: 25n, earliest: 4n, latest: 10n, newOffset: 10n, skipped: 0n }),
      ])
      const requests = yield* broker.requests
      expect(requests.map((r) => `${r.api}:${r.spec}:${r.partitions.length}`)).toEqual([
        "ListOffsets:earliest:2",
        "ListOffsets:latest:2",
      ])
    }))

  it.effect("earliest and latest policies", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const [e] = yield* OffsetRecovery.earliest().recover([at(0, 25n)], 3).pipe(Effect.provide(broker.layer))
      const [l] = yield* OffsetRecovery.latest().recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer))
      expect(e).toMatchObject({ _tag: "Reset", newOffset: 4n, skipped: 0n })
      expect(l).toMatchObject({ _tag: "Reset", newOffset: 10n, skipped: 9n })
    }))

  it.effect("inside the listed range: refetch, then OffsetRecoveryExhausted after the bounded attempts", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const recovery = OffsetRecovery.nearest()
      const [first] = yield* recovery.recover([at(0, 6n, 0)], 3).pipe(Effect.provide(broker.layer))
      expect(first).toMatchObject({ _tag: "Refetch", attempt: 1, earliest: 4n, latest: 10n })
      const e = yield* Effect.flip(recovery.recover([at(0, 6n, 2)], 3).pipe(Effect.provide(broker.layer)))
      expect(e).toMatchObject({ _tag: "OffsetRecoveryExhausted", requestedOffset: 6n, earliest: 4n, latest: 10n, attempts: 3 })
    }))

  it.effect("fail: the typed OffsetOutOfRange, and nothing is listed", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const e = yield* Effect.flip(OffsetRecovery.fail().recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer)))
      expect(e).toMatchObject({ _tag: "OffsetOutOfRange", requestedOffset: 1n })
      expect(yield* broker.requests).toEqual([])
    }))

  it.effect("network failures of ListOffsets are retried on the schedule", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const network = new ListOffsetsError({ partitions: [TopicPartition.make("t", 0)], reason: "Network", retriable: true })
      // a round trip is two requests (earliest, latest): two rounds fail
      yield* broker.failListOffsets([network, network, network])
      const recovery = OffsetRecovery.nearest({ listOffsetsRetry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(3))) })
      const fiber = yield* Effect.fork(recovery.recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer)))
      yield* TestClock.adjust("1 second")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      const [d] = yield* Fiber.join(fiber)
      expect(d).toMatchObject({ _tag: "Reset", newOffset: 4n })
    }))

  it.effect("schedule exhausted: ListOffsetsError carrying the out-of-range facts", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const network = new ListOffsetsError({ partitions: [TopicPartition.make("t", 0)], reason: "Timeout", retriable: true })
      yield* broker.failListOffsets(Array.from({ length: 6 }, () => network))
      const recovery = OffsetRecovery.nearest({ listOffsetsRetry: Schedule.recurs(2) })
      const e = yield* Effect.flip(recovery.recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer)))
      expect(e._tag).toBe("ListOffsetsError")
      if (e._tag === "ListOffsetsError") {
        expect(e.reason).toBe("Timeout")
        expect(e.outOfRange).toMatchObject({ _tag: "OffsetOutOfRange", topic: "t", partition: 0, requestedOffset: 1n })
      }
      // 1 + 2 retries, each one round trip of two requests
      expect((yield* broker.requests).length).toBe(6)
    }))

  it.effect("TopicAuthorizationFailed from ListOffsets is not retried and keeps its tag", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      yield* broker.failListOffsets([new TopicAuthorizationFailed({ topic: "t", api: "ListOffsets" })])
      const e = yield* Effect.flip(OffsetRecovery.nearest().recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer)))
      expect(e).toMatchObject({ _tag: "TopicAuthorizationFailed", api: "ListOffsets" })
    }))

  it.effect("the default schedule retries with growing, capped delays", () =>
    Effect.gen(function* () {
      const broker = yield* setup
      const network = new ListOffsetsError({ partitions: [TopicPartition.make("t", 0)], reason: "Network", retriable: true })
      yield* broker.failListOffsets(Array.from({ length: 20 }, () => network))
      const fiber = yield* Effect.fork(Effect.flip(OffsetRecovery.nearest().recover([at(0, 1n)], 3).pipe(Effect.provide(broker.layer))))
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("5 seconds")
      const e = yield* Fiber.join(fiber)
      expect(e._tag).toBe("ListOffsetsError")
      // 1 try + 8 retries
      expect((yield* broker.requests).length).toBe(18)
    }))
})
