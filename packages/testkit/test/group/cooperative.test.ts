import { describe, expect, it } from "@effect/vitest"
import { Assignor, TopicPartition } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { advance, assignmentOf, type Delivery, GROUP, layer, produceEach, recordingListener, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"

describe("cooperative-sticky (TestClock)", () => {
  it.effect("a member joins: the first member keeps consuming what it keeps, revokes only what moves; two rounds; nothing twice", () =>
    Effect.gen(function* () {
      const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      const calls: Array<string> = []
      const listener = (name: string) => recordingListener(calls, name, (tps) => tps.map(TopicPartition.format).join(","))
      const options = (name: string) => ({ assignors: [Assignor.cooperativeSticky], listener: listener(name) })
      yield* produceEach(TOPIC, 6, 3, "a")
      const m1 = yield* startMember("m1", [TOPIC], deliveries, options("m1"))
      yield* m1.sub.membership.awaitStable()
      yield* advance(2000)
      const m2 = yield* startMember("m2", [TOPIC], deliveries, options("m2"))
      yield* advance(1000)
      yield* produceEach(TOPIC, 6, 2, "b")
      yield* advance(6000)
      expect(yield* assignmentOf(m1)).toEqual(["t-0", "t-1", "t-2"])
      expect(yield* assignmentOf(m2)).toEqual(["t-3", "t-4", "t-5"])
      // m1 never gave up t-0..t-2; it revoked exactly what moved; m2 got it in the second round.
      expect(calls).toEqual([
        "m1 assigned t-0,t-1,t-2,t-3,t-4,t-5",
        "m1 revoked t-3,t-4,t-5",
        "m2 assigned t-3,t-4,t-5",
      ])
      const g = yield* coordinator.describe(GROUP)
      expect(g.protocolName).toBe("cooperative-sticky")
      const all = yield* Ref.get(deliveries)
      // Every record once: m2 started where m1 committed on revoke.
      const seen = all.map((d) => `${d.partition}@${d.offset}`)
      expect(seen.length).toBe(30)
      expect(new Set(seen).size).toBe(30)
      for (const p of [3, 4, 5]) {
        expect(all.filter((d) => d.partition === p && d.member === "m2").map((d) => d.offset)).toEqual([3n, 4n])
      }
      yield* stopMember(m2)
      yield* stopMember(m1)
    }).pipe(Effect.provide(layer({ [TOPIC]: 6 }))),
    30_000,
  )
})
