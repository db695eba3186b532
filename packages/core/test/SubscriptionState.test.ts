import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ConsumerRecord } from "../src/ConsumerRecord.js"
import type { PartitionFetchResult } from "../src/Fetcher.js"
import * as SubscriptionState from "../src/SubscriptionState.js"
import * as TopicPartition from "../src/TopicPartition.js"

const a0 = TopicPartition.make("a", 0)
const a1 = TopicPartition.make("a", 1)
const b0 = TopicPartition.make("b", 0)

const record = (tp: TopicPartition.TopicPartition, offset: bigint): ConsumerRecord => ({
  topic: tp.topic,
  partition: tp.partition,
  offset,
  timestamp: 0,
  key: null,
  value: null,
  headers: [],
})

const records = (tp: TopicPartition.TopicPartition, from: bigint, to: bigint) => {
  const out: Array<ConsumerRecord> = []
  for (let o = from; o < to; o++) out.push(record(tp, o))
  return out
}

/** An answer buffered and then delivered, as a fetch loop does for a consumer that keeps up. */
const fetchAndDeliver = (
  state: SubscriptionState.SubscriptionState,
  sent: ReadonlyArray<SubscriptionState.FetchPosition>,
  results: ReadonlyArray<PartitionFetchResult>,
) =>
  Effect.gen(function* () {
    const buffered = yield* state.bufferFetch(sent, results)
    const delivered = yield* state.deliver(buffered.segments)
    yield* state.release(sent)
    return { records: delivered.flatMap((segment) => segment.records), stale: buffered.stale }
  })

describe("SubscriptionState", () => {
  it.effect("new partitions start from the committed offset, else from autoOffsetReset", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "earliest" })
      yield* state.assign([a0, a1], new Map([[TopicPartition.key(a1), 7n]]))
      const p0 = yield* state.get(a0)
      const p1 = yield* state.get(a1)
      expect(p0.position).toBeUndefined()
      expect(p0.pendingReset).toBe("earliest")
      expect(p1.position).toBe(7n)
      expect((yield* state.fetchPositions).map((p) => p.offset)).toEqual([7n])
      expect((yield* state.pendingResets()).map((p) => p.spec)).toEqual(["earliest"])
    }))

  it.effect("seeks before the first assignment are kept and applied when assigned", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.seek(a0, 42n)
      yield* state.requestReset("earliest", [b0])
      yield* state.assign([a0, a1, b0])
      expect((yield* state.get(a0)).position).toBe(42n)
      expect((yield* state.get(b0)).pendingReset).toBe("earliest")
      expect((yield* state.get(a1)).pendingReset).toBe("latest")
      expect((yield* state.intents).partitions.size).toBe(0)
    }))

  it.effect("seekToBeginning() with no partitions before assignment applies to every assigned partition", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.requestReset("earliest")
      yield* state.assign([a0, b0])
      const specs = (yield* state.pendingResets()).map((p) => p.spec)
      expect(specs).toEqual(["earliest", "earliest"])
    }))

  it.effect("after the first assignment, an explicit unassigned partition is PartitionNotAssigned", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.assign([a0])
      const seek = yield* Effect.flip(state.seek(b0, 1n))
      expect(seek._tag).toBe("PartitionNotAssigned")
      expect(seek.operation).toBe("seek")
      const reset = yield* Effect.flip(state.requestReset("latest", [a0, b0]))
      expect(reset).toMatchObject({ _tag: "PartitionNotAssigned", topic: "b", partition: 0, operation: "seekToEnd" })
      // nothing was applied to a0 either
      expect((yield* state.get(a0)).pendingReset).toBe("latest")
      expect((yield* Effect.flip(state.pause([b0])))._tag).toBe("PartitionNotAssigned")
    }))

  it.effect("a buffered and delivered answer drops records below the position and advances, using nextOffset when given", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.assign([a0, a1], new Map([[TopicPartition.key(a0), 5n], [TopicPartition.key(a1), 0n]]))
      const sent = yield* state.fetchPositions
      const outcome = yield* fetchAndDeliver(state, sent, [
        { _tag: "Records", topic: "a", partition: 0, records: records(a0, 3n, 8n), highWatermark: 8n, logStartOffset: 0n, nextOffset: undefined },
        { _tag: "Records", topic: "a", partition: 1, records: records(a1, 0n, 2n), highWatermark: 9n, logStartOffset: 0n, nextOffset: 6n },
      ])
      expect([...outcome.records].map((r) => `${r.partition}@${r.offset}`)).toEqual(["0@5", "0@6", "0@7", "1@0", "1@1"])
      expect((yield* state.get(a0)).position).toBe(8n)
      expect((yield* state.get(a1)).position).toBe(6n)
      expect((yield* state.get(a1)).highWatermark).toBe(9n)
    }))

  it.effect("an answer to a fetch sent before a seek is dropped (epoch)", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.assign([a0], new Map([[TopicPartition.key(a0), 0n]]))
      const sent = yield* state.fetchPositions
      yield* state.seek(a0, 0n) // same offset, new epoch
      const outcome = yield* fetchAndDeliver(state, sent, [
        { _tag: "Records", topic: "a", partition: 0, records: records(a0, 0n, 3n), highWatermark: 3n, logStartOffset: 0n, nextOffset: undefined },
      ])
      expect(outcome.records.length).toBe(0)
      expect(outcome.stale).toBe(1)
      expect((yield* state.get(a0)).position).toBe(0n)
    }))

  it.effect("paused partitions are not fetched, and answers for them are held back", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.assign([a0, a1], new Map([[TopicPartition.key(a0), 0n], [TopicPartition.key(a1), 0n]]))
      const sent = yield* state.fetchPositions
      yield* state.pause([a1])
      expect((yield* state.fetchPositions).map((p) => p.partition)).toEqual([0])
      const outcome = yield* fetchAndDeliver(state, sent, [
        { _tag: "Records", topic: "a", partition: 1, records: records(a1, 0n, 2n), highWatermark: 2n, logStartOffset: 0n, nextOffset: undefined },
      ])
      expect(outcome.records.length).toBe(0)
      yield* state.resume([a1])
      expect((yield* state.fetchPositions).map((p) => `${p.partition}@${p.offset}`)).toEqual(["0@0", "1@0"])
      expect(yield* state.paused).toEqual([])
    }))

  it.effect("reassignment keeps pending seeks of kept partitions and drops those of revoked ones", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "latest" })
      yield* state.assign([a0, a1], new Map([[TopicPartition.key(a0), 3n], [TopicPartition.key(a1), 3n]]))
      yield* state.requestReset("earliest")
      yield* state.assign([a0, b0])
      expect((yield* state.get(a0)).pendingReset).toBe("earliest")
      expect((yield* state.get(b0)).pendingReset).toBe("latest")
      expect((yield* Effect.flip(state.get(a1)))._tag).toBe("PartitionNotAssigned")
      yield* state.assign([a0, a1])
      // a1 comes back fresh: its old seek is gone
      expect((yield* state.get(a1)).pendingReset).toBe("latest")
    }))

  it.effect("completeResets ignores answers overtaken by a newer seek", () =>
    Effect.gen(function* () {
      const state = yield* SubscriptionState.make({ autoOffsetReset: "earliest" })
      yield* state.assign([a0])
      const pending = yield* state.pendingResets()
      yield* state.seek(a0, 11n)
      const n = yield* state.completeResets([{ pending: pending[0]!, offset: 0n }])
      expect(n).toBe(0)
      expect((yield* state.get(a0)).position).toBe(11n)
    }))
})
