import { describe, expect, it } from "@effect/vitest"
import { TopicPartition } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker } from "../../src/index.js"
import { advance, assignmentOf, type Delivery, GROUP, killMember, layer, produceEach, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"
const PARTITIONS = 6

describe("consumer group in memory (TestClock)", () => {
  it.effect("two and three members share six partitions; join, clean leave, death by session timeout; nothing lost, nothing twice in a generation, commits monotonic", () =>
    Effect.gen(function* () {
      const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
      const broker = yield* TestBroker.TestBroker
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      yield* produceEach(TOPIC, PARTITIONS, 5, "a")

      const m1 = yield* startMember("m1", [TOPIC], deliveries)
      yield* m1.sub.membership.awaitStable()
      yield* advance(2000)
      expect(yield* assignmentOf(m1)).toEqual(["t-0", "t-1", "t-2", "t-3", "t-4", "t-5"])

      // A second member joins: 3 + 3.
      const m2 = yield* startMember("m2", [TOPIC], deliveries)
      yield* produceEach(TOPIC, PARTITIONS, 5, "b")
      yield* advance(5000)
      const g2 = yield* coordinator.describe(GROUP)
      expect(g2.state).toBe("Stable")
      expect(g2.members.length).toBe(2)
      expect((yield* assignmentOf(m1)).length).toBe(3)
      expect((yield* assignmentOf(m2)).length).toBe(3)

      // A third: 2 + 2 + 2.
      const m3 = yield* startMember("m3", [TOPIC], deliveries)
      yield* produceEach(TOPIC, PARTITIONS, 5, "c")
      yield* advance(5000)
      const g3 = yield* coordinator.describe(GROUP)
      expect(g3.members.length).toBe(3)
      expect(g3.generationId).toBeGreaterThan(g2.generationId)
      for (const m of [m1, m2, m3]) expect((yield* assignmentOf(m)).length).toBe(2)
      const all3 = [...(yield* assignmentOf(m1)), ...(yield* assignmentOf(m2)), ...(yield* assignmentOf(m3))].sort()
      expect(all3).toEqual(["t-0", "t-1", "t-2", "t-3", "t-4", "t-5"])

      // m2 leaves cleanly: the others rebalance at once (no session timeout to wait for).
      yield* produceEach(TOPIC, PARTITIONS, 5, "d")
      yield* advance(1000)
      yield* stopMember(m2)
      const events = yield* coordinator.events(GROUP)
      expect(events.some((e) => e.event === "Left" && e.memberId?.startsWith("m2"))).toBe(true)
      yield* advance(3000)
      const g4 = yield* coordinator.describe(GROUP)
      expect(g4.members.map((m) => m.clientId).sort()).toEqual(["m1", "m3"])
      expect((yield* assignmentOf(m1)).length).toBe(3)
      expect((yield* assignmentOf(m3)).length).toBe(3)

      // m3 dies: nothing happens until its session times out, then m1 takes everything.
      yield* produceEach(TOPIC, PARTITIONS, 5, "e")
      yield* advance(1000)
      yield* killMember(m3)
      yield* advance(5000)
      expect((yield* coordinator.describe(GROUP)).members.length).toBe(2)
      yield* advance(10_000)
      const g5 = yield* coordinator.describe(GROUP)
      expect(g5.members.map((m) => m.clientId)).toEqual(["m1"])
      expect((yield* coordinator.events(GROUP)).some((e) => e.event === "SessionExpired" && e.memberId?.startsWith("m3"))).toBe(true)
      expect(yield* assignmentOf(m1)).toEqual(["t-0", "t-1", "t-2", "t-3", "t-4", "t-5"])

      yield* produceEach(TOPIC, PARTITIONS, 5, "f")
      yield* advance(5000)
      yield* stopMember(m1)

      // Every record delivered.
      const delivered = yield* Ref.get(deliveries)
      for (let p = 0; p < PARTITIONS; p++) {
        const hw = (yield* broker.partitionState(TopicPartition.make(TOPIC, p))).highWatermark
        expect(hw).toBe(30n)
        const seen = new Set(delivered.filter((d) => d.partition === p).map((d) => d.offset))
        for (let o = 0n; o < hw; o++) expect(seen.has(o), `t-${p}@${o}`).toBe(true)
      }
      // None twice within a generation.
      const counts = new Map<string, number>()
      for (const d of delivered) {
        const k = `${d.generationId}/${d.partition}/${d.offset}`
        counts.set(k, (counts.get(k) ?? 0) + 1)
      }
      expect([...counts].filter(([, n]) => n > 1)).toEqual([])
      // Commits per partition never go back, and the last one is the end of the log.
      const commits = yield* coordinator.commitLog(GROUP)
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = commits.filter((c) => c.partition === p).map((c) => c.offset)
        expect(offsets.length).toBeGreaterThan(0)
        for (let i = 1; i < offsets.length; i++) expect(offsets[i] >= offsets[i - 1], `t-${p}: ${offsets.join(",")}`).toBe(true)
        expect(offsets[offsets.length - 1]).toBe(30n)
      }
      // The group is empty after the last member left.
      expect((yield* coordinator.describe(GROUP)).state).toBe("Empty")
    }).pipe(Effect.provide(layer({ [TOPIC]: PARTITIONS }))),
    30_000,
  )

  it.effect("the leader rejoins when a subscribed topic appears (metadata changed); the new partitions get assigned", () =>
    Effect.gen(function* () {
      const broker = yield* TestBroker.TestBroker
      const deliveries = yield* Ref.make<Array<Delivery>>([])
      const m1 = yield* startMember("m1", [TOPIC, "later"], deliveries, { metadataMaxAge: "10 seconds" })
      const first = yield* m1.sub.membership.awaitStable()
      expect(yield* assignmentOf(m1)).toEqual(["t-0", "t-1"])
      yield* broker.createTopic("later", 2)
      yield* broker.produce("later", 1, [{ value: "x" }])
      yield* advance(12_000)
      const second = yield* m1.sub.membership.awaitStable(first.generationId)
      expect(second.assignment.map(TopicPartition.format)).toEqual(["later-0", "later-1", "t-0", "t-1"])
      expect((yield* Ref.get(deliveries)).map((d) => `${d.topic}-${d.partition}@${d.offset}`)).toEqual(["later-1@0"])
      yield* stopMember(m1)
    }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )
})
