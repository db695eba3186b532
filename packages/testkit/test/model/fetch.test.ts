import { describe, expect, it } from "@effect/vitest"
import { ConsumerRecord, Fetcher } from "@kafka-effect/core"
import { Effect, TestClock } from "effect"
import { TestBroker } from "../../src/index.js"
import { fetchRequest, summary, tp, values } from "./helpers.js"

const withBroker = TestBroker.layer({ topics: { t: 2, u: 1 } })

describe("BrokerModel fetch", () => {
  it.effect("produce appends and returns base offsets; fetch returns the records with Clock timestamps", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* TestClock.adjust("1234 millis")
      expect(yield* broker.produce("t", 0, values("a", "b"))).toBe(0n)
      expect(
        yield* broker.produce("t", 0, [
          { key: "k", value: "c", headers: { h: "v" }, timestamp: 42 },
          { key: null, value: null },
        ]),
      ).toBe(2n)
      const [result] = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]]))
      if (result._tag !== "Records") return expect.fail(`expected records, got ${result._tag}`)
      expect(result.records.map((r) => r.offset)).toEqual([0n, 1n, 2n, 3n])
      expect(result.records.map((r) => r.timestamp)).toEqual([1234, 1234, 42, 1234])
      expect(ConsumerRecord.utf8(result.records[2].key)).toBe("k")
      expect(result.records[2].headers.map((h) => [h.key, ConsumerRecord.utf8(h.value)])).toEqual([["h", "v"]])
      expect(result.records[3].value).toBeNull()
      expect(result.highWatermark).toBe(4n)
      expect(result.logStartOffset).toBe(0n)
      expect(result.nextOffset).toBeUndefined()
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("fetch from the middle starts at the requested offset; at the high watermark it is empty", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a", "b", "c"))
      yield* broker.produce("t", 0, values("d"))
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 1n]])))).toEqual([
        { tp: "t-0", offsets: [1n, 2n, 3n], values: ["b", "c", "d"] },
      ])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 4n]])))).toEqual([
        { tp: "t-0", offsets: [], values: [] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("out of range below the log start or above the high watermark errs for that partition only", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a", "b", "c", "d"))
      yield* broker.produce("t", 1, values("x", "y"))
      yield* broker.produce("u", 0, values("p"))
      yield* broker.deleteRecords(tp("t", 0), 2n)
      const results = yield* fetcher.fetch(
        fetchRequest([
          ["t", 0, 1n],
          ["t", 1, 0n],
          ["u", 0, 5n],
        ]),
      )
      expect(summary(results)).toEqual([
        { tp: "t-0", error: "OffsetOutOfRange" },
        { tp: "t-1", offsets: [0n, 1n], values: ["x", "y"] },
        { tp: "u-0", error: "OffsetOutOfRange" },
      ])
      const first = results[0]
      if (first._tag !== "Error" || first.error._tag !== "OffsetOutOfRange") return expect.fail("expected OffsetOutOfRange")
      expect(first.error.requestedOffset).toBe(1n)
      const third = results[2]
      if (third._tag !== "Error" || third.error._tag !== "OffsetOutOfRange") return expect.fail("expected OffsetOutOfRange")
      expect(third.error.requestedOffset).toBe(5n)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("an unknown topic or partition errs for that partition only", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a"))
      const results = yield* fetcher.fetch(
        fetchRequest([
          ["nope", 0, 0n],
          ["t", 0, 0n],
          ["t", 7, 0n],
        ]),
      )
      expect(summary(results)).toEqual([
        { tp: "nope-0", error: "UnknownTopicOrPartition" },
        { tp: "t-0", offsets: [0n], values: ["a"] },
        { tp: "t-7", error: "UnknownTopicOrPartition" },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("respects the per-partition byte limit", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"))
      yield* broker.produce("t", 1, values("xxxxxxxxxx", "yyyyyyyyyy"))
      const results = yield* fetcher.fetch(
        fetchRequest(
          [
            ["t", 0, 0n],
            ["t", 1, 0n],
          ],
          { partitionMaxBytes: 25 },
        ),
      )
      expect(summary(results)).toEqual([
        { tp: "t-0", offsets: [0n, 1n], values: ["aaaaaaaaaa", "bbbbbbbbbb"] },
        { tp: "t-1", offsets: [0n, 1n], values: ["xxxxxxxxxx", "yyyyyyyyyy"] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("respects the response byte limit across partitions", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"))
      yield* broker.produce("t", 1, values("xxxxxxxxxx", "yyyyyyyyyy"))
      const results = yield* fetcher.fetch(
        fetchRequest(
          [
            ["t", 0, 0n],
            ["t", 1, 0n],
          ],
          { maxBytes: 35 },
        ),
      )
      expect(summary(results)).toEqual([
        { tp: "t-0", offsets: [0n, 1n, 2n], values: ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"] },
        { tp: "t-1", offsets: [], values: [] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("a record larger than every limit is still delivered alone (partial-batch rule)", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      const big = "z".repeat(100)
      yield* broker.produce("t", 0, values(big, "small"))
      const results = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]], { partitionMaxBytes: 10, maxBytes: 10 }))
      expect(summary(results)).toEqual([{ tp: "t-0", offsets: [0n], values: [big] }])
      // and the consumer makes progress: the next fetch gets the next record
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 1n]], { partitionMaxBytes: 10, maxBytes: 10 })))).toEqual([
        { tp: "t-0", offsets: [1n], values: ["small"] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("counts key, value and header bytes", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      // each record: key 2 + value 3 + header 1 + 4 = 10 bytes
      const rec = { key: "kk", value: "vvv", headers: { h: "hhhh" } }
      yield* broker.produce("t", 0, [rec, rec, rec])
      const at20 = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]], { partitionMaxBytes: 20 }))
      const at19 = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]], { partitionMaxBytes: 19 }))
      expect(summary(at20)[0]).toMatchObject({ offsets: [0n, 1n] })
      expect(summary(at19)[0]).toMatchObject({ offsets: [0n] })
    }).pipe(Effect.provide(withBroker)),
  )
})
