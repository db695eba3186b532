import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker } from "../../src/index.js"
import { advance, assignmentOf, type Delivery, GROUP, layer, produceEach, recordingListener, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"

const valuesOf = (deliveries: ReadonlyArray<Delivery>, member: string, partition: number) =>
  deliveries.filter((d) => d.member === member && d.partition === partition).map((d) => d.offset)

describe("seeks and group membership (TestClock)", () => {
  it.effect("seekToEnd before the first assignment applies to the partitions when the group assigns them", () =>
    Effect.gen(function* () {
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      yield* produceEach(TOPIC, 6, 10, "old")
      const m1 = yield* startMember("m1", [TOPIC], deliveries, {
        beforeSubscribe: (consumer) => consumer.seekToEnd(),
      })
      yield* m1.sub.membership.awaitStable()
      yield* advance(1000)
      yield* produceEach(TOPIC, 6, 3, "new")
      yield* advance(2000)
      for (let p = 0; p < 6; p++) expect(valuesOf(yield* Ref.get(deliveries), "m1", p)).toEqual([10n, 11n, 12n])
      yield* stopMember(m1)
    }).pipe(Effect.provide(layer({ [TOPIC]: 6 }))),
    30_000,
  )

  it.effect("seekToEnd during a rebalance: kept partitions jump to the end, revoked ones drop the seek and their new owner starts at the committed offset", () =>
    Effect.gen(function* () {
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      const broker = yield* TestBroker.TestBroker
      let revokes = 0
      const m1 = yield* startMember("m1", [TOPIC], deliveries, {
        listener: (consumer) => ({
          // The first revocation is the rebalance m2's join causes: while it is under way (m1's
          // partitions suspended), records arrive and m1 seeks to the end.
          onRevoked: () =>
            Effect.suspend(() =>
              ++revokes === 1
                ? Effect.zipRight(produceEach(TOPIC, 6, 2, "during").pipe(Effect.provideService(TestBroker.TestBroker, broker)), consumer.seekToEnd().pipe(Effect.orDie))
                : Effect.void,
            ),
        }),
      })
      yield* m1.sub.membership.awaitStable()
      yield* produceEach(TOPIC, 6, 4, "a")
      yield* advance(2000)
      for (let p = 0; p < 6; p++) expect(valuesOf(yield* Ref.get(deliveries), "m1", p)).toEqual([0n, 1n, 2n, 3n])

      const m2 = yield* startMember("m2", [TOPIC], deliveries)
      yield* advance(5000)
      expect(revokes).toBe(1)
      const kept = (yield* m1.sub.assignment).map((tp) => tp.partition)
      const moved = (yield* m2.sub.assignment).map((tp) => tp.partition)
      expect(kept.length).toBe(3)
      expect(moved.length).toBe(3)
      yield* produceEach(TOPIC, 6, 1, "after")
      yield* advance(3000)
      const all = yield* Ref.get(deliveries)
      // m1's kept partitions skipped the records 4 and 5 (the seek resolved to the end after the rebalance).
      for (const p of kept) expect(valuesOf(all, "m1", p)).toEqual([0n, 1n, 2n, 3n, 6n])
      // m2 got the moved partitions from the offset m1 committed on revoke: 4, 5, then 6.
      for (const p of moved) {
        expect(valuesOf(all, "m2", p)).toEqual([4n, 5n, 6n])
        expect(valuesOf(all, "m1", p)).toEqual([0n, 1n, 2n, 3n])
      }
      yield* stopMember(m2)
      yield* stopMember(m1)
    }).pipe(Effect.provide(layer({ [TOPIC]: 6 }))),
    30_000,
  )

  it.effect("the listener sees revoke before assign, and the commit on revoke lands before the new owner reads it", () =>
    Effect.gen(function* () {
      const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      const calls: Array<string> = []
      const listener = (name: string) => recordingListener(calls, name, (tps) => `${tps.length}`)
      yield* produceEach(TOPIC, 2, 3, "a")
      const m1 = yield* startMember("m1", [TOPIC], deliveries, { listener: listener("m1"), autoCommit: false })
      yield* m1.sub.membership.awaitStable()
      yield* advance(1000)
      const m2 = yield* startMember("m2", [TOPIC], deliveries, { listener: listener("m2"), autoCommit: false })
      yield* advance(4000)
      expect(calls).toEqual(["m1 assigned 2", "m1 revoked 2", "m1 assigned 1", "m2 assigned 1"])
      // autoCommit is off: the only commits are the one on revoke, by m1, in generation 1, of all it processed.
      const commits = yield* coordinator.commitLog(GROUP)
      expect(commits.map((c) => [c.memberId.split("-")[0], c.generationId, c.partition, c.offset])).toEqual([
        ["m1", 1, 0, 3n],
        ["m1", 1, 1, 3n],
      ])
      // Nothing was delivered twice: m2 started at the committed offset.
      expect((yield* Ref.get(deliveries)).length).toBe(6)
      expect(yield* assignmentOf(m2)).toHaveLength(1)
      yield* stopMember(m2)
      yield* stopMember(m1)
    }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )
})
