import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, Fetcher, OffsetLister } from "@kafka-effect/core"
import { Effect, Fiber, Option, TestClock } from "effect"
import { TestBroker } from "../../src/index.js"
import { fetchRequest, summary, tp, values } from "./helpers.js"

const withBroker = TestBroker.layer({ topics: { t: 2 } })
const t0 = tp("t", 0)
const t1 = tp("t", 1)
const both = fetchRequest([
  ["t", 0, 0n],
  ["t", 1, 0n],
])

const seed = Effect.gen(function* () {
  const broker = yield* TestBroker.TestBroker
  yield* broker.produce("t", 0, values("a", "b"))
  yield* broker.produce("t", 1, values("x"))
})

describe("BrokerModel faults", () => {
  it.effect("Network fails the next N fetches, then heals; the request log shows each outcome", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* seed
      yield* broker.failNext("Fetch", 2, { _tag: "Network" })
      const first = yield* Effect.flip(fetcher.fetch(both))
      const second = yield* Effect.flip(fetcher.fetch(both))
      expect([first._tag, first._tag === "FetchError" && first.reason, first._tag === "FetchError" && first.retriable]).toEqual([
        "FetchError",
        "Network",
        true,
      ])
      expect(second._tag).toBe("FetchError")
      expect(summary(yield* fetcher.fetch(both))).toEqual([
        { tp: "t-0", offsets: [0n, 1n], values: ["a", "b"] },
        { tp: "t-1", offsets: [0n], values: ["x"] },
      ])
      const log = yield* broker.requests
      expect(log.map((e) => [e.api, e.outcome, e.fault?._tag])).toEqual([
        ["Fetch", "fault", "Network"],
        ["Fetch", "fault", "Network"],
        ["Fetch", "ok", undefined],
      ])
      expect(log[0].partitions).toEqual([t0, t1])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("Timeout fails the request with reason Timeout", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const lister = yield* OffsetLister.OffsetLister
      yield* broker.failNext("Fetch", 1, { _tag: "Timeout" })
      yield* broker.failNext("ListOffsets", 1, { _tag: "Timeout" })
      const fetchError = yield* Effect.flip(fetcher.fetch(both))
      expect(fetchError._tag === "FetchError" && fetchError.reason).toBe("Timeout")
      const listError = yield* Effect.flip(lister.list([t0], "latest"))
      expect(listError._tag === "ListOffsetsError" && listError.reason).toBe("Timeout")
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("an error code on one partition never costs the other partitions their records", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* seed
      yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }, [t1])
      const results = yield* fetcher.fetch(both)
      expect(summary(results)).toEqual([
        { tp: "t-0", offsets: [0n, 1n], values: ["a", "b"] },
        { tp: "t-1", error: "TopicAuthorizationFailed" },
      ])
      // healed
      expect(summary(yield* fetcher.fetch(both))[1]).toEqual({ tp: "t-1", offsets: [0n], values: ["x"] })
      const log = yield* broker.requests
      expect(log.map((e) => [e.outcome, e.errors])).toEqual([
        ["fault", [{ topic: "t", partition: 1, code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]],
        ["ok", []],
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("error codes map to core's tagged errors; others keep the protocol's name and retriable flag", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* seed
      yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.OFFSET_OUT_OF_RANGE }, [t0])
      yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }, [t1])
      expect(summary(yield* fetcher.fetch(both))).toEqual([
        { tp: "t-0", error: "OffsetOutOfRange" },
        { tp: "t-1", error: "UnknownTopicOrPartition" },
      ])
      yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.NOT_LEADER_OR_FOLLOWER })
      const results = yield* fetcher.fetch(both)
      const errors = results.map((r) =>
        r._tag === "Error" && r.error._tag === "BrokerError"
          ? [r.error.code, r.error.name, r.error.retriable, r.error.api, r.error.partition]
          : r._tag,
      )
      expect(errors).toEqual([
        [6, "NOT_LEADER_OR_FOLLOWER", true, "Fetch", 0],
        [6, "NOT_LEADER_OR_FOLLOWER", true, "Fetch", 1],
      ])
      yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.INVALID_RECORD }, [t0])
      const [invalid] = yield* fetcher.fetch(both)
      expect(invalid._tag === "Error" && invalid.error._tag === "BrokerError" && [invalid.error.name, invalid.error.retriable]).toEqual([
        "INVALID_RECORD",
        false,
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("a fault restricted to partitions counts only requests that touch them", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* seed
      yield* broker.failNext("Fetch", 1, { _tag: "Network" }, [t1])
      const only0 = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]]))
      expect(summary(only0)).toEqual([{ tp: "t-0", offsets: [0n, 1n], values: ["a", "b"] }])
      expect((yield* Effect.flip(fetcher.fetch(both)))._tag).toBe("FetchError")
      expect(summary(yield* fetcher.fetch(both))).toHaveLength(2)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("faults on one API leave the others alone; Infinity never heals", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const lister = yield* OffsetLister.OffsetLister
      yield* seed
      yield* broker.failNext("ListOffsets", Number.POSITIVE_INFINITY, { _tag: "Network" })
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(lister.list([t0, t1], "earliest"))
        expect(error._tag === "ListOffsetsError" && [error.reason, error.retriable, error.partitions]).toEqual([
          "Network",
          true,
          [t0, t1],
        ])
      }
      expect(summary(yield* fetcher.fetch(both))).toHaveLength(2)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("ListOffsets: earliest/latest; error codes and unknown topics fail with their own tags", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const lister = yield* OffsetLister.OffsetLister
      yield* seed
      yield* broker.deleteRecords(t0, 1n)
      expect(yield* lister.list([t0, t1], "earliest")).toEqual([
        { topic: "t", partition: 0, offset: 1n },
        { topic: "t", partition: 1, offset: 0n },
      ])
      expect(yield* lister.list([t0, t1], "latest")).toEqual([
        { topic: "t", partition: 0, offset: 2n },
        { topic: "t", partition: 1, offset: 1n },
      ])
      yield* broker.failNext("ListOffsets", 1, { _tag: "ErrorCode", code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }, [t1])
      const denied = yield* Effect.flip(lister.list([t0, t1], "latest"))
      expect(denied._tag === "TopicAuthorizationFailed" && [denied.topic, denied.api]).toEqual(["t", "ListOffsets"])
      const unknown = yield* Effect.flip(lister.list([tp("gone", 0)], "latest"))
      expect(unknown._tag === "UnknownTopicOrPartition" && [unknown.topic, unknown.partition]).toEqual(["gone", 0])
      yield* broker.failNext("ListOffsets", 1, { _tag: "ErrorCode", code: ErrorCode.COORDINATOR_NOT_AVAILABLE })
      const other = yield* Effect.flip(lister.list([t0], "latest"))
      expect(other._tag === "BrokerError" && [other.name, other.retriable]).toEqual(["COORDINATOR_NOT_AVAILABLE", true])
      expect(yield* lister.list([t0], "latest")).toEqual([{ topic: "t", partition: 0, offset: 2n }])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("latency holds every request of the API on the Clock; the log records arrival times", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const lister = yield* OffsetLister.OffsetLister
      yield* seed
      yield* broker.setLatency("ListOffsets", "200 millis")
      const listing = yield* Effect.fork(lister.list([t0], "latest"))
      yield* TestClock.adjust("199 millis")
      expect(Option.isNone(yield* Fiber.poll(listing))).toBe(true)
      // Fetch has no latency
      expect(summary(yield* fetcher.fetch(both))).toHaveLength(2)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(listing)).toEqual([{ topic: "t", partition: 0, offset: 2n }])
      const second = yield* Effect.fork(lister.list([t0], "earliest"))
      yield* TestClock.adjust("200 millis")
      expect(yield* Fiber.join(second)).toEqual([{ topic: "t", partition: 0, offset: 0n }])
      yield* broker.setLatency("ListOffsets", 0)
      expect(yield* lister.list([t0], "earliest")).toHaveLength(1)
      const log = yield* broker.requests
      expect(log.map((e) => [e.api, e.at])).toEqual([
        ["ListOffsets", 0],
        ["Fetch", 199],
        ["ListOffsets", 200],
        ["ListOffsets", 400],
      ])
      yield* broker.clearRequests
      expect(yield* broker.requests).toEqual([])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("the request log records the broker's own partition errors", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* seed
      yield* fetcher.fetch(
        fetchRequest([
          ["t", 0, 9n],
          ["t", 1, 0n],
        ]),
      )
      const [entry] = yield* broker.requests
      expect([entry.outcome, entry.errors]).toEqual(["ok", [{ topic: "t", partition: 0, code: ErrorCode.OFFSET_OUT_OF_RANGE }]])
    }).pipe(Effect.provide(withBroker)),
  )
})
