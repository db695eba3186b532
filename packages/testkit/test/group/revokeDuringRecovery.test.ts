/**
 * The embedded soak's 808 duplicates (tracker issue 11): a fetch answer holding one partition's
 * records and another partition's OFFSET_OUT_OF_RANGE. The consumer of that run (before the fetch
 * loops) checked ownership when it applied the answer, then held the records through the other
 * partition's recovery (its ListOffsets round trip, retried on a schedule) and handed them out
 * afterwards: a rebalance in between had revoked their partition, the new owner started from the
 * committed offset, and the old owner delivered the same records again, reading the new
 * generation. Records must be checked when they are handed out (today: `SubscriptionState.deliver`
 * on taking them from the fetch buffer), so nothing of a revoked partition reaches the user after
 * `onRevoked`, and no record is delivered twice in one generation.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import { TestBroker } from "../../src/index.js"
import * as BrokerModel from "../../src/BrokerModel.js"
import { advance, assignmentOf, type Delivery, GROUP, layer, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"
const p0 = TopicPartition.make(TOPIC, 0)
const p1 = TopicPartition.make(TOPIC, 1)

const produce = (partition: number, from: number, count: number) =>
  Effect.flatMap(TestBroker.TestBroker, (broker) =>
    broker.produce(TOPIC, partition, Array.from({ length: count }, (_, i) => ({ value: `${partition}-${from + i}` }))),
  )

describe("a partition revoked while another partition of the same fetch answer recovers (TestClock)", () => {
  it.effect(
    "its records fetched before the revoke are not delivered after it: no record twice in one generation",
    () =>
      Effect.gen(function* () {
        const broker = yield* TestBroker.TestBroker
        const model = yield* BrokerModel.BrokerModel
        const deliveries = yield* Ref.make<Array<Delivery>>([])
        const calls: Array<string> = []
        // How many records of p1 a had handed out when it revoked its partitions.
        const atRevoke: Array<number> = []
        const p1By = (all: ReadonlyArray<Delivery>, member: string) => all.filter((d) => d.member === member && d.partition === 1)
        const listener = (name: string) => () => ({
          onRevoked: () =>
            Effect.flatMap(Ref.get(deliveries), (all) =>
              Effect.sync(() => {
                calls.push(`${name} revoked`)
                if (name === "a") atRevoke.push(p1By(all, "a").length)
              }),
            ),
        })
        // Both partitions start from a committed offset (no ListOffsets before the first fetch).
        yield* model.commitOffsets(GROUP, [{ ...p0, offset: 0n }, { ...p1, offset: 0n }])
        yield* produce(0, 0, 5)
        yield* produce(1, 0, 10)
        // a's first fetch answers p0 OFFSET_OUT_OF_RANGE (inside the range: the recovery lists
        // offsets, then fetches p0 again at the same offset) and p1 with its ten records; the
        // recovery's ListOffsets is slow.
        yield* broker.setLatency("ListOffsets", "6 seconds")
        yield* broker.failNext("Fetch", 1, { _tag: "ErrorCode", code: ErrorCode.OFFSET_OUT_OF_RANGE }, [p0])
        // Generation 1: a alone owns both partitions.
        const a = yield* startMember("a", [TOPIC], deliveries, { listener: listener("a") })
        yield* a.sub.membership.awaitStable()
        yield* advance(500)

        // Meanwhile b joins: a revokes everything, and the range assignor gives b partition 1
        // (members by id: a-…, b-…), from the offset the group committed for it.
        const b = yield* startMember("b", [TOPIC], deliveries, { listener: listener("b") })
        yield* advance(12_000)
        expect(yield* assignmentOf(a)).toEqual(["t-0"])
        expect(yield* assignmentOf(b)).toEqual(["t-1"])
        expect(calls[0]).toBe("a revoked")

        const all = yield* Ref.get(deliveries)
        const byA = p1By(all, "a").map((d) => `${d.generationId}:${d.offset}`)
        const byB = p1By(all, "b").map((d) => `${d.generationId}:${d.offset}`)
        // Nothing of p1 reached a's user after a revoked it (the fetch before was a's, handed out before or never).
        expect(byA.length, `a delivered ${byA.slice(atRevoke[0]).join(", ")} of p1 after revoking it`).toBe(atRevoke[0])
        // Every record of p1 reached someone (a in generation 1, or b from what a committed).
        const offsets = new Set([...byA, ...byB].map((s) => s.split(":")[1]))
        expect([...offsets].sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
        const twice = byB.filter((s) => byA.includes(s))
        expect(twice, `delivered by a and by b in the same generation: ${twice.join(", ")}`).toEqual([])
        yield* stopMember(b)
        yield* stopMember(a)
      }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )
})
