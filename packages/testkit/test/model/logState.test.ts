import { describe, expect, it } from "@effect/vitest"
import { Fetcher, OffsetLister } from "@kafka-effect/core"
import { Effect } from "effect"
import { BrokerModel, TestBroker } from "../../src/index.js"
import { fetchRequest, summary, tp, values } from "./helpers.js"

const withBroker = TestBroker.layer({ topics: { t: 1 } })
const t0 = tp("t", 0)

const range = Effect.gen(function* () {
  const lister = yield* OffsetLister.OffsetLister
  const [earliest] = yield* lister.list([t0], "earliest")
  const [latest] = yield* lister.list([t0], "latest")
  return [earliest.offset, latest.offset]
})

describe("BrokerModel log state", () => {
  it.effect("deleteRecords moves the log start; fetch below it is out of range, at it delivers", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a", "b", "c"))
      yield* broker.produce("t", 0, values("d", "e"))
      yield* broker.deleteRecords(t0, 2n)
      expect(yield* broker.partitionState(t0)).toEqual({ logStartOffset: 2n, highWatermark: 5n, offsets: [2n, 3n, 4n] })
      expect(yield* range).toEqual([2n, 5n])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 1n]])))).toEqual([{ tp: "t-0", error: "OffsetOutOfRange" }])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 2n]])))).toEqual([
        { tp: "t-0", offsets: [2n, 3n, 4n], values: ["c", "d", "e"] },
      ])
      // deleting up to the high watermark empties the log: earliest = latest
      yield* broker.deleteRecords(t0, 5n)
      expect(yield* range).toEqual([5n, 5n])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 5n]])))).toEqual([{ tp: "t-0", offsets: [], values: [] }])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("deleteRecords beyond the high watermark answers OFFSET_OUT_OF_RANGE; -1 means the high watermark", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      yield* model.produce(t0, values("a", "b"))
      const error = yield* Effect.flip(model.deleteRecords(t0, 3n))
      expect([error.code, error.name]).toEqual([1, "OFFSET_OUT_OF_RANGE"])
      expect((yield* model.partitionState(t0)).logStartOffset).toBe(0n)
      expect(yield* model.deleteRecords(t0, -1n)).toBe(2n)
      // moving the start down is a no-op, as in Kafka
      expect(yield* model.deleteRecords(t0, 1n)).toBe(2n)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("compaction keeps the latest record per key and null keys, leaving holes; fetch skips them", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, [
        { key: "a", value: "a1" }, // 0
        { key: "b", value: "b1" }, // 1
        { key: "a", value: "a2" }, // 2
        { key: null, value: "n1" }, // 3
      ])
      yield* broker.produce("t", 0, [
        { key: "b", value: "b2" }, // 4
        { key: "c", value: "c1" }, // 5
        { key: "a", value: "a3" }, // 6
        { key: "c", value: "c2" }, // 7
      ])
      yield* broker.compact(t0)
      expect(yield* broker.partitionState(t0)).toEqual({ logStartOffset: 0n, highWatermark: 8n, offsets: [3n, 4n, 6n, 7n] })
      expect(yield* range).toEqual([0n, 8n])
      // an offset inside the range that compaction removed: the next records, no error
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 0n]])))).toEqual([
        { tp: "t-0", offsets: [3n, 4n, 6n, 7n], values: ["n1", "b2", "a3", "c2"] },
      ])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 5n]])))).toEqual([
        { tp: "t-0", offsets: [6n, 7n], values: ["a3", "c2"] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("trailing compaction holes: the answer sets nextOffset to the high watermark", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, [
        { key: "a", value: "a1" }, // 0
        { key: "b", value: "b1" }, // 1 removed
        { key: "b", value: "b2" }, // 2
        { key: "a", value: "a2" }, // 3 removed
        { key: "a", value: "a3" }, // 4 removed
        { key: "a", value: "a4" }, // 5
      ])
      yield* broker.produce("t", 0, [{ key: "b", value: "b3" }]) // 6: makes 2 a hole too
      yield* broker.produce("t", 0, [{ key: "a", value: "a5" }]) // 7: makes 5 a hole
      yield* broker.compact(t0)
      yield* broker.truncate(t0, 7n) // drop a5: offsets 5..6 hold b3 only
      expect((yield* broker.partitionState(t0)).offsets).toEqual([6n])
      const [records] = yield* fetcher.fetch(fetchRequest([["t", 0, 0n]]))
      if (records._tag !== "Records") return expect.fail("expected records")
      expect(records.records.map((r) => r.offset)).toEqual([6n])
      expect(records.nextOffset).toBeUndefined()

      // a log whose tail is all holes: the fetch returns nothing but moves the consumer to the HW
      yield* broker.produce("t", 0, [{ key: "b", value: "b4" }, { key: "b", value: "b5" }]) // 7, 8
      yield* broker.compact(t0) // keeps 8 only
      const [tail] = yield* fetcher.fetch(fetchRequest([["t", 0, 7n]]))
      if (tail._tag !== "Records") return expect.fail("expected records")
      expect(tail.records.map((r) => r.offset)).toEqual([8n])
      expect(tail.nextOffset).toBeUndefined()
      yield* broker.produce("t", 0, [{ key: "b", value: "b6" }]) // 9
      yield* broker.compact(t0) // keeps 9 only; 0..8 are holes
      const [holes] = yield* fetcher.fetch(fetchRequest([["t", 0, 7n]]))
      if (holes._tag !== "Records") return expect.fail("expected records")
      expect(holes.records.map((r) => r.offset)).toEqual([9n])
      yield* broker.truncate(t0, 9n) // 7..8 are holes below the high watermark 9
      const [trailing] = yield* fetcher.fetch(fetchRequest([["t", 0, 7n]]))
      if (trailing._tag !== "Records") return expect.fail("expected records")
      expect(trailing.records).toEqual([])
      expect(trailing.nextOffset).toBe(9n)
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("truncation moves the high watermark down; a position past it is out of range; offsets are reused", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const fetcher = yield* Fetcher.Fetcher
      yield* broker.produce("t", 0, values("a", "b", "c", "d", "e"))
      yield* broker.truncate(t0, 3n)
      expect(yield* broker.partitionState(t0)).toEqual({ logStartOffset: 0n, highWatermark: 3n, offsets: [0n, 1n, 2n] })
      expect(yield* range).toEqual([0n, 3n])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 5n]])))).toEqual([{ tp: "t-0", error: "OffsetOutOfRange" }])
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 3n]])))).toEqual([{ tp: "t-0", offsets: [], values: [] }])
      expect(yield* broker.produce("t", 0, values("D"))).toBe(3n)
      expect(summary(yield* fetcher.fetch(fetchRequest([["t", 0, 2n]])))).toEqual([
        { tp: "t-0", offsets: [2n, 3n], values: ["c", "D"] },
      ])
    }).pipe(Effect.provide(withBroker)),
  )

  it.effect("truncation below the log start empties the log; truncation above the high watermark is refused", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      yield* model.produce(t0, values("a", "b", "c", "d"))
      yield* model.deleteRecords(t0, 3n)
      yield* model.truncate(t0, 1n)
      expect(yield* model.partitionState(t0)).toMatchObject({ logStartOffset: 1n, highWatermark: 1n, offsets: [] })
      const error = yield* Effect.flip(model.truncate(t0, 2n))
      expect(error.name).toBe("INVALID_REQUEST")
    }).pipe(Effect.provide(withBroker)),
  )
})
