import { describe, expect, it } from "@effect/vitest"
import { ConsumerRecord, Fetcher } from "@kafka-effect/core"
import { Effect, Exit, TestClock } from "effect"
import { BrokerModel, TestBroker } from "../../src/index.js"
import { fetchRequest, summary, tp, values } from "./helpers.js"

const t0 = tp("t", 0)
const modelFetch = (offset: bigint, options: { maxBytes?: number; granularity?: "record" | "batch"; brokerId?: number } = {}) => ({
  partitions: [{ topic: "t", partition: 0, offset, maxBytes: options.maxBytes ?? 1 << 20 }],
  maxWaitMs: 0,
  minBytes: 1,
  maxBytes: options.maxBytes ?? 1 << 20,
  ...(options.granularity === undefined ? {} : { granularity: options.granularity }),
  ...(options.brokerId === undefined ? {} : { brokerId: options.brokerId }),
})

describe("BrokerModel as the wire broker sees it", () => {
  it.effect("TestBroker.layer shares one model among the control service, Fetcher and OffsetLister", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const model = yield* BrokerModel.BrokerModel
      const fetcher = yield* Fetcher.Fetcher
      expect(Object.values(broker.capabilities).every((c) => c === true)).toBe(true)
      yield* broker.createTopic("fresh", 2)
      yield* model.produce(tp("fresh", 1), values("via model"))
      expect(summary(yield* fetcher.fetch(fetchRequest([["fresh", 1, 0n]])))).toEqual([
        { tp: "fresh-1", offsets: [0n], values: ["via model"] },
      ])
      expect((yield* model.requests).map((e) => e.api)).toEqual(["Fetch"])
      const exit = yield* Effect.exit(broker.createTopic("fresh", 1))
      expect(Exit.isFailure(exit)).toBe(true)
    }).pipe(Effect.provide(TestBroker.layer())),
  )

  it.effect("keeps batches as produced: producer facts, raw bytes while intact, whole batches in batch mode", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      yield* model.produce(t0, values("a", "b", "c"), {
        attributes: 2, // snappy
        producerId: 7n,
        producerEpoch: 1,
        baseSequence: 0,
        raw,
      })
      yield* model.produce(t0, [
        { key: "k", value: "d" },
        { key: "k", value: "e" },
      ])
      const [stored1, stored2] = yield* model.batches(t0)
      expect([stored1.baseOffset, stored1.lastOffset, stored1.producerId, stored1.attributes, stored1.raw]).toEqual([
        0n,
        2n,
        7n,
        2,
        raw,
      ])
      expect([stored2.baseOffset, stored2.lastOffset, stored2.producerId, stored2.raw]).toEqual([3n, 4n, -1n, undefined])

      // batch mode: whole batches, even when the requested offset is inside one
      const [whole] = yield* model.fetch(modelFetch(1n, { granularity: "batch" }))
      if (whole._tag !== "Records") return expect.fail("expected records")
      expect(whole.batches.map((b) => b.baseOffset)).toEqual([0n, 3n])
      expect(whole.records.map((r) => r.offset)).toEqual([1n, 2n, 3n, 4n])
      // the raw batch (10 bytes) fills a 12-byte limit: the second batch waits for the next fetch
      const [limited] = yield* model.fetch(modelFetch(0n, { granularity: "batch", maxBytes: 12 }))
      if (limited._tag !== "Records") return expect.fail("expected records")
      expect(limited.batches.map((b) => b.baseOffset)).toEqual([0n])

      // compaction edits the second batch: its raw bytes (none) and offsets range stay explained
      yield* model.compact(t0)
      const [, compacted] = yield* model.batches(t0)
      expect([compacted.baseOffset, compacted.lastOffset, compacted.records.map((r) => r.offset)]).toEqual([3n, 4n, [4n]])
      expect((yield* model.batches(t0))[0].raw).toBe(raw)
      yield* model.truncate(t0, 2n)
      const [cut] = yield* model.batches(t0)
      expect([cut.lastOffset, cut.raw, cut.records.length]).toEqual([1n, undefined, 2])
    }).pipe(Effect.provide(BrokerModel.layer({ topics: { t: 1 } }))),
  )

  it.effect("LogAppendTime batches take the broker's clock; ListOffsets by timestamp finds the first record at or after it", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      yield* TestClock.adjust("1000 millis")
      yield* model.produce(t0, [{ value: "a", timestamp: 10 }], { attributes: BrokerModel.ATTR_LOG_APPEND_TIME })
      yield* model.produce(t0, [
        { value: "b", timestamp: 2000 },
        { value: "c", timestamp: 3000 },
      ])
      const [batch] = yield* model.batches(t0)
      expect(batch.records[0].timestamp).toBe(1000)
      const at = (timestamp: number) =>
        Effect.map(model.listOffsets([t0], { timestamp }), ([r]) => [r.offset, r.timestamp])
      expect(yield* at(1500)).toEqual([1n, 2000])
      expect(yield* at(3000)).toEqual([2n, 3000])
      expect(yield* at(3001)).toEqual([-1n, -1])
    }).pipe(Effect.provide(BrokerModel.layer({ topics: { t: 1 } }))),
  )

  it.effect("several brokers: leaders spread, a leader move bumps the epoch, a request to a non-leader is refused", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      expect(model.brokers.map((b) => b.nodeId)).toEqual([0, 1, 2])
      const [meta] = yield* model.metadata(["t"])
      expect(meta.partitions.map((p) => p.leader)).toEqual([0, 1, 2, 0])
      yield* model.produce(t0, values("a"))
      yield* model.moveLeader(t0, 2)
      const state = yield* model.partitionState(t0)
      expect([state.leader, state.leaderEpoch]).toEqual([2, 1])
      const [refused] = yield* model.fetch(modelFetch(0n, { brokerId: 0 }))
      expect(refused._tag === "Error" && refused.code).toBe(6)
      const [served] = yield* model.fetch(modelFetch(0n, { brokerId: 2 }))
      expect(served._tag === "Records" && served.records.length).toBe(1)
      const [listed] = yield* model.listOffsets([t0], "latest", { brokerId: 1 })
      expect(listed.code).toBe(6)
      yield* model.setBrokerAddress(1, "127.0.0.1", 19092)
      expect(model.brokers[1].port).toBe(19092)
    }).pipe(Effect.provide(BrokerModel.layer({ brokers: 3, topics: { t: 4 } }))),
  )

  it.effect("serve gives other APIs the same request path: log, latency, faults", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      yield* model.failNext("Produce", 1, { _tag: "ErrorCode", code: 19 }, [t0])
      yield* model.failNext("Metadata", 1, { _tag: "Network" })
      const produceAnswer = (records: ReadonlyArray<{ value: string }>) =>
        model.serve("Produce", [t0], (ctx) => {
          const code = ctx.injectedCode(t0)
          if (code !== undefined) {
            ctx.reportErrors([{ topic: "t", partition: 0, code }])
            return Effect.succeed({ code, offset: -1n })
          }
          return Effect.map(Effect.orDie(model.produce(t0, records)), (offset) => ({ code: 0, offset }))
        })
      expect(yield* produceAnswer(values("a"))).toEqual({ code: 19, offset: -1n })
      expect(yield* produceAnswer(values("b"))).toEqual({ code: 0, offset: 0n })
      const fault = yield* Effect.flip(model.serve("Metadata", [], () => Effect.succeed("brokers")))
      expect([fault._tag, fault.reason]).toEqual(["RequestFault", "Network"])
      expect(yield* model.serve("Metadata", [], () => Effect.succeed("brokers"))).toBe("brokers")
      const log = yield* model.requests
      expect(log.map((e) => [e.api, e.outcome, e.errors.length])).toEqual([
        ["Produce", "fault", 1],
        ["Produce", "ok", 0],
        ["Metadata", "fault", 0],
        ["Metadata", "ok", 0],
      ])
    }).pipe(Effect.provide(BrokerModel.layer({ topics: { t: 1 } }))),
  )

  it.effect("committed offsets per group; header lists keep repeated keys; auto-created topics", () =>
    Effect.gen(function* () {
      const model = yield* BrokerModel.BrokerModel
      yield* model.commitOffsets("g", [{ topic: "t", partition: 0, offset: 5n, metadata: "m" }])
      expect(yield* model.committedOffsets("g", [t0, tp("t", 1)])).toEqual([
        { topic: "t", partition: 0, offset: 5n, metadata: "m" },
        { topic: "t", partition: 1, offset: -1n, metadata: null },
      ])
      expect(yield* model.committedOffsets("other", [t0])).toEqual([{ topic: "t", partition: 0, offset: -1n, metadata: null }])
      const h = new TextEncoder().encode("1")
      yield* model.produce(tp("auto", 2), [
        {
          value: "v",
          headers: [
            { key: "x", value: h },
            { key: "x", value: null },
          ],
        },
      ])
      const [meta] = yield* model.metadata(["auto"])
      expect(meta.partitions).toHaveLength(3)
      const [batch] = yield* model.batches(tp("auto", 2))
      expect(batch.records[0].headers.map((x) => [x.key, ConsumerRecord.utf8(x.value)])).toEqual([
        ["x", "1"],
        ["x", null],
      ])
    }).pipe(Effect.provide(BrokerModel.layer({ topics: { t: 2 }, autoCreateTopics: { partitions: 3 } }))),
  )
})
