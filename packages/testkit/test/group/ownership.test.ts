/**
 * Committed offsets never go backwards: a partition that went to another member and came back
 * starts from what the group committed meanwhile, never from where this member left it.
 *
 * The other member ("b") is played by hand on the coordinator's answering functions (they bypass
 * the broker's faults), so the test decides every assignment as the group leader and every commit
 * b makes; member "a" is a real `GroupConsumer` whose requests go through the faults.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, ErrorCode, GroupConsumer, GroupCoordinator, MemberProtocol, TopicPartition } from "@kafka-effect/core"
import { Chunk, Deferred, Effect, Exit, Fiber, Ref, Scope, Stream } from "effect"
import * as BrokerModel from "../../src/BrokerModel.js"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker, TestKit } from "../../src/index.js"
import { advance, type Delivery, GROUP, generationOf, layer, type Member, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"
const tp = TopicPartition.make(TOPIC, 0)
const network = { _tag: "Network" } as const

/** Member b, by hand: joins, syncs as the leader with the assignment it chooses, commits. */
const handMember = Effect.gen(function* () {
  const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
  const protocols = [{ name: "range", metadata: MemberProtocol.encodeSubscription({ topics: [TOPIC] }) }]
  let memberId = ""
  const join = Effect.gen(function* () {
    const answer = yield* coordinator.joinGroup("b", {
      groupId: GROUP,
      sessionTimeoutMs: 120_000,
      rebalanceTimeoutMs: 20_000,
      memberId,
      protocolType: "consumer",
      protocols,
    })
    expect(answer.code).toBe(ErrorCode.NONE)
    memberId = answer.memberId
    return answer
  })
  /** As the leader: `owner` gets the partition, every other member nothing. */
  const sync = (answer: InMemoryCoordinator.JoinAnswer, owner: (memberId: string) => boolean) =>
    Effect.gen(function* () {
      expect(answer.leaderId).toBe(answer.memberId)
      const assignments = answer.members.map((m) => ({
        memberId: m.memberId,
        assignment: MemberProtocol.encodeAssignment({ partitions: owner(m.memberId) ? [tp] : [] }),
      }))
      const synced = yield* coordinator.syncGroup({ groupId: GROUP, generationId: answer.generationId, memberId: answer.memberId, assignments })
      expect(synced.code).toBe(ErrorCode.NONE)
    })
  const commit = (generationId: number, offset: bigint) =>
    Effect.gen(function* () {
      const codes = yield* coordinator.offsetCommit({ groupId: GROUP, generationId, memberId, offsets: [{ topic: TOPIC, partition: 0, offset }] })
      expect(codes).toEqual([ErrorCode.NONE])
    })
  return { join, sync, commit, isB: (id: string) => id === memberId }
})

const produce = (from: number, count: number) =>
  Effect.flatMap(TestBroker.TestBroker, (broker) =>
    broker.produce(TOPIC, 0, Array.from({ length: count }, (_, i) => ({ value: `r${from + i}` }))),
  )

interface Fixture {
  readonly deliveries: Ref.Ref<Array<Delivery>>
  readonly calls: Array<string>
  readonly logs: Effect.Effect<ReadonlyArray<TestKit.CapturedLog>>
}

const fixture = <A, E, R>(body: (f: Fixture) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const capture = yield* TestKit.makeLogCapture({ quiet: true })
    return yield* body({ deliveries: yield* Ref.make<Array<Delivery>>([]), calls: [], logs: capture.logs }).pipe(Effect.provide(capture.layer))
  })

/** Member a: a real consumer with a listener that writes its calls. */
const memberA = (deliveries: Ref.Ref<Array<Delivery>>, calls: Array<string>) =>
  startMember("a", [TOPIC], deliveries, {
    listener: () => ({
      onRevoked: (tps) => Effect.sync(() => calls.push(`revoked ${tps.length}`)),
      onAssigned: (tps) => Effect.sync(() => calls.push(`assigned ${tps.length}`)),
      onLost: (tps) => Effect.sync(() => calls.push(`lost ${tps.length}`)),
    }),
  })

const stableIn = (m: Member, generationId: number) =>
  Effect.map(m.sub.membership.state, (s) => s._tag === "Stable" && s.generationId === generationId)

const commitLog = Effect.flatMap(InMemoryCoordinator.InMemoryCoordinator, (c) => c.commitLog(GROUP))

describe("ownership across generations (TestClock)", () => {
  it.effect(
    "a partition that came back after a generation this member missed starts at the offset committed meanwhile",
    () =>
      fixture(({ deliveries, calls, logs }) =>
        Effect.gen(function* () {
          const model = yield* BrokerModel.BrokerModel
          const broker = yield* TestBroker.TestBroker
          const b = yield* handMember
          // Generation 1: b alone.
          const g1 = yield* b.join
          yield* b.sync(g1, () => false)
          // Generation 2: a joins; b (the leader) gives a the partition. a's commits do not get through.
          yield* broker.failNext("OffsetCommit", Number.POSITIVE_INFINITY, network)
          const a = yield* memberA(deliveries, calls)
          yield* advance(500)
          const g2 = yield* b.join.pipe(Effect.fork)
          yield* advance(500)
          const j2 = yield* Fiber.join(g2)
          yield* b.sync(j2, (id) => !b.isB(id))
          yield* advance(500)
          expect(yield* stableIn(a, j2.generationId)).toBe(true)
          yield* produce(0, 10)
          yield* advance(3000)
          expect((yield* Ref.get(deliveries)).map((d) => d.offset)).toEqual([...Array(10).keys()].map(BigInt))

          // Generation 3: b rejoins; a revokes (its commit fails), rejoins, and its SyncGroup fails:
          // a never learns that b took the partition in generation 3.
          const g3 = yield* b.join.pipe(Effect.fork)
          yield* broker.failNext("SyncGroup", Number.POSITIVE_INFINITY, network)
          yield* advance(8000)
          const j3 = yield* Fiber.join(g3)
          expect(j3.members).toHaveLength(2)
          yield* b.sync(j3, b.isB)
          // b consumes: ten more records, five of them processed and committed in generation 3.
          yield* produce(10, 10)
          yield* b.commit(j3.generationId, 15n)
          // Generation 4: b gives the partition back to a.
          const g4 = yield* b.join.pipe(Effect.fork)
          yield* model.clearFaults
          // Fetches are slow from here: an auto-commit comes before the first records.
          yield* broker.setLatency("Fetch", "3 seconds")
          yield* advance(6000)
          const j4 = yield* Fiber.join(g4)
          expect(j4.generationId).toBe(j3.generationId + 1)
          yield* b.sync(j4, (id) => !b.isB(id))
          yield* advance(8000)
          expect(yield* stableIn(a, j4.generationId)).toBe(true)

          const offsets = (yield* commitLog).filter((c) => c.partition === 0).map((c) => c.offset)
          expect(offsets[0]).toBe(15n)
          expect(offsets.every((o, i) => i === 0 || o >= offsets[i - 1]), `committed ${offsets.join(", ")}`).toBe(true)
          const inG4 = (yield* Ref.get(deliveries)).filter((d) => d.generationId === j4.generationId).map((d) => d.offset)
          expect(inG4).toEqual([15n, 16n, 17n, 18n, 19n])
          // What a owned in generation 2 was lost, not kept: another member may have had it.
          expect(calls).toEqual(["assigned 1", "revoked 1", "assigned 1"])
          const lost = (yield* logs).filter((l) => l.message === "Partitions lost")
          expect(lost.map((l) => [l.annotations.reason, l.annotations.partitions])).toEqual([["MissedGeneration", "t-0"]])
          yield* stopMember(a)
          expect((yield* commitLog).map((c) => c.offset).at(-1)).toBe(20n)
        }),
      ).pipe(Effect.provide(layer({ [TOPIC]: 1 }))),
    30_000,
  )

  it.effect(
    "records a slow handler marks processed after its partition went away and came back are not committed",
    () =>
      fixture(({ calls }) =>
        Effect.gen(function* () {
          const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
          const b = yield* handMember
          const g1 = yield* b.join
          yield* b.sync(g1, () => false)
          // Member a's handler holds its first two chunks until the test lets each go, then marks it processed.
          const scope = yield* Scope.make()
          const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope))
          const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], {
            groupId: GROUP,
            sessionTimeout: "10 seconds",
            heartbeatInterval: "1 second",
            rebalanceTimeout: "20 seconds",
            autoCommitInterval: "2 seconds",
            listener: {
              onRevoked: (tps) => Effect.sync(() => calls.push(`revoked ${tps.length}`)),
              onAssigned: (tps) => Effect.sync(() => calls.push(`assigned ${tps.length}`)),
            },
          }).pipe(Scope.extend(scope), Effect.provideService(GroupCoordinator.GroupCoordinator, coordinator.client("a")))
          const releases = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
          const delivered: Array<string> = []
          let chunks = 0
          const fiber = yield* sub.chunks.pipe(
            Stream.runForEach((chunk) =>
              Effect.gen(function* () {
                const g = generationOf(yield* sub.membership.state)
                for (const r of chunk) delivered.push(`${g}:${r.offset}`)
                const release = releases[chunks++]
                if (release !== undefined) yield* Deferred.await(release)
                yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
              }),
            ),
            Effect.fork,
          )
          yield* advance(500)
          // Generation 2: b gives a the partition; a gets records 0..9 and holds them.
          const g2 = yield* b.join.pipe(Effect.fork)
          yield* advance(500)
          const j2 = yield* Fiber.join(g2)
          yield* b.sync(j2, (id) => !b.isB(id))
          yield* produce(0, 10)
          yield* advance(1000)
          expect(delivered).toEqual([...Array(10).keys()].map((i) => `${j2.generationId}:${i}`))
          // Generation 3: b takes the partition, consumes, commits 15.
          const g3 = yield* b.join.pipe(Effect.fork)
          yield* advance(2000)
          const j3 = yield* Fiber.join(g3)
          yield* b.sync(j3, b.isB)
          yield* advance(500)
          yield* produce(10, 10)
          yield* b.commit(j3.generationId, 15n)
          // Generation 4: the partition comes back to a, which is still busy with records 0..9.
          const g4 = yield* b.join.pipe(Effect.fork)
          yield* advance(2000)
          const j4 = yield* Fiber.join(g4)
          expect(j4.members).toHaveLength(2)
          yield* b.sync(j4, (id) => !b.isB(id))
          yield* advance(500)
          const state = yield* sub.membership.state
          expect(state._tag === "Stable" && state.generationId === j4.generationId && state.assignment.length === 1).toBe(true)
          // a is done with 0..9 now: processed, but under an ownership that ended; not committed.
          yield* Deferred.succeed(releases[0], undefined)
          yield* advance(5000)
          expect(delivered.slice(10)).toEqual([15, 16, 17, 18, 19].map((i) => `${j4.generationId}:${i}`))
          expect((yield* commitLog).map((c) => c.offset)).toEqual([15n])
          // The records of this ownership are committed as usual.
          yield* Deferred.succeed(releases[1], undefined)
          yield* advance(3000)
          expect((yield* commitLog).map((c) => c.offset)).toEqual([15n, 20n])
          expect(calls).toEqual(["assigned 1", "revoked 1", "assigned 0", "assigned 1"])
          yield* Fiber.interrupt(fiber)
          yield* Scope.close(scope, Exit.void)
        }),
      ).pipe(Effect.provide(layer({ [TOPIC]: 1 }))),
    30_000,
  )
})

