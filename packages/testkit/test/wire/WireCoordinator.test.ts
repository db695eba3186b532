/**
 * The embedded broker's group coordinator (the testkit's InMemoryCoordinator through its wire
 * adapter) on TestClock: generations, rebalances when members come and go, session expiry, the
 * rebalance timeout dropping members that do not rejoin, and the checks on commits. Deterministic:
 * no sockets, no real time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as BrokerModel from "../../src/BrokerModel.js"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import * as WireCoordinator from "../../src/wire/WireCoordinator.js"
import { ErrorCode } from "@kafka-effect/core"

const protocols = [{ name: "range", metadata: Uint8Array.of(1) }]

/** The wire coordinator over a fresh InMemoryCoordinator (its timers in the test's scope). */
const make = (options?: WireCoordinator.Options) =>
  Effect.map(InMemoryCoordinator.make(), (c) => WireCoordinator.fromInMemory(c, options)).pipe(
    Effect.provide(BrokerModel.layer()),
  )

const joinRequest = (memberId = "", clientId = "c"): WireCoordinator.JoinRequest => ({
  groupId: "g",
  memberId,
  groupInstanceId: null,
  clientId,
  clientHost: "/127.0.0.1",
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 30_000,
  protocolType: "consumer",
  protocols,
})

/** Member a joins and syncs alone (generation 1), then b's join starts a rebalance (forked: it waits for a). */
const secondJoins = (gc: WireCoordinator.Service) =>
  Effect.gen(function* () {
    const a = yield* gc.join(joinRequest("", "a"))
    yield* gc.sync({ groupId: "g", generationId: 1, memberId: a.memberId, assignments: [] })
    const bJoin = yield* Effect.fork(gc.join(joinRequest("", "b")))
    yield* Effect.yieldNow()
    return { a, bJoin }
  })

describe("WireCoordinator", () => {
  it.scoped("one member: join completes at once, the leader's sync makes the group stable", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      const joined = yield* gc.join(joinRequest())
      expect(joined.errorCode).toBe(ErrorCode.NONE)
      expect(joined.generationId).toBe(1)
      expect(joined.leader).toBe(joined.memberId)
      expect(joined.protocolName).toBe("range")
      expect(joined.members.map((m) => m.memberId)).toEqual([joined.memberId])
      const synced = yield* gc.sync({
        groupId: "g",
        generationId: 1,
        memberId: joined.memberId,
        assignments: [{ memberId: joined.memberId, assignment: Uint8Array.of(9) }],
      })
      expect(synced).toEqual({ errorCode: ErrorCode.NONE, assignment: Uint8Array.of(9) })
      expect((yield* gc.describe("g"))?.state).toBe("Stable")
      expect(yield* gc.heartbeat("g", 1, joined.memberId)).toBe(ErrorCode.NONE)
      expect(yield* gc.heartbeat("g", 0, joined.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION)
      expect(yield* gc.heartbeat("g", 1, "nobody")).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }),
  )

  it.scoped("a second member starts a rebalance; the first learns it from its heartbeat and rejoins", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      const { a, bJoin } = yield* secondJoins(gc)
      expect(yield* gc.heartbeat("g", 1, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
      // Members commit what they consumed before they rejoin (Kafka accepts it while PreparingRebalance).
      expect(yield* gc.validateCommit("g", 1, a.memberId)).toBe(ErrorCode.NONE)
      const aAgain = yield* gc.join(joinRequest(a.memberId, "a"))
      const b = yield* Fiber.join(bJoin)
      expect(aAgain.generationId).toBe(2)
      expect(b.generationId).toBe(2)
      // The leader stays the leader and alone gets the member list.
      expect(aAgain.leader).toBe(a.memberId)
      expect(aAgain.members.length).toBe(2)
      expect(b.members.length).toBe(0)
      expect(yield* gc.validateCommit("g", 2, b.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
      // The follower's sync waits for the leader's.
      const bSync = yield* Effect.fork(gc.sync({ groupId: "g", generationId: 2, memberId: b.memberId, assignments: [] }))
      yield* Effect.yieldNow()
      yield* gc.sync({
        groupId: "g",
        generationId: 2,
        memberId: a.memberId,
        assignments: [
          { memberId: a.memberId, assignment: Uint8Array.of(1) },
          { memberId: b.memberId, assignment: Uint8Array.of(2) },
        ],
      })
      expect(yield* Fiber.join(bSync)).toEqual({ errorCode: ErrorCode.NONE, assignment: Uint8Array.of(2) })
      expect(yield* gc.validateCommit("g", 2, a.memberId)).toBe(ErrorCode.NONE)
      expect(yield* gc.validateCommit("g", 2, b.memberId)).toBe(ErrorCode.NONE)
      expect(yield* gc.validateCommit("g", 1, b.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION)
      expect(yield* gc.validateCommit("g", -1, "")).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }),
  )

  it.scoped("a member that stops heartbeating is expired after its session timeout; the other rejoins alone", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      const { a, bJoin } = yield* secondJoins(gc)
      yield* gc.join(joinRequest(a.memberId, "a"))
      const b = yield* Fiber.join(bJoin)
      yield* gc.sync({ groupId: "g", generationId: 2, memberId: a.memberId, assignments: [] })
      yield* gc.sync({ groupId: "g", generationId: 2, memberId: b.memberId, assignments: [] })
      // a keeps heartbeating, b goes silent.
      for (let i = 0; i < 12; i++) {
        yield* TestClock.adjust("1 second")
        const code = yield* gc.heartbeat("g", 2, a.memberId)
        if (code !== ErrorCode.NONE) {
          expect(code).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
          break
        }
      }
      expect((yield* gc.describe("g"))?.members.map((m) => m.memberId)).toEqual([a.memberId])
      const alone = yield* gc.join(joinRequest(a.memberId, "a"))
      expect(alone.generationId).toBe(3)
      expect(alone.members.map((m) => m.memberId)).toEqual([a.memberId])
      expect(yield* gc.heartbeat("g", 3, b.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
    }),
  )

  it.scoped("a member that does not rejoin within the rebalance timeout is dropped; leaving rebalances at once", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      // a's session (60 s) outlives the rebalance timeout (30 s): the rebalance timeout is what drops it.
      const a = yield* gc.join({ ...joinRequest("", "a"), sessionTimeoutMs: 60_000 })
      yield* gc.sync({ groupId: "g", generationId: 1, memberId: a.memberId, assignments: [] })
      const bJoin = yield* Effect.fork(gc.join(joinRequest("", "b")))
      yield* Effect.yieldNow()
      // a never rejoins: after the rebalance timeout (30 s) b completes the generation alone.
      yield* TestClock.adjust("29 seconds")
      expect(bJoin.unsafePoll()).toBe(null)
      yield* TestClock.adjust("2 seconds")
      const b = yield* Fiber.join(bJoin)
      expect(b.generationId).toBe(2)
      expect(b.leader).toBe(b.memberId)
      expect(b.members.map((m) => m.memberId)).toEqual([b.memberId])
      yield* gc.sync({ groupId: "g", generationId: 2, memberId: b.memberId, assignments: [] })
      expect(yield* gc.leave("g", [b.memberId, "ghost"])).toEqual([0, ErrorCode.UNKNOWN_MEMBER_ID])
      const d = yield* gc.describe("g")
      expect(d?.state).toBe("Empty")
      expect(d?.members).toEqual([])
      // An empty group accepts commits from outside any generation (simple consumers, admin tools).
      expect(yield* gc.validateCommit("g", -1, "")).toBe(ErrorCode.NONE)
    }),
  )

  it.scoped("rejects what Kafka rejects: bad session timeout, protocol mismatch, unknown member", () =>
    Effect.gen(function* () {
      const gc = yield* make({ minSessionTimeoutMs: 6000 })
      expect((yield* gc.join({ ...joinRequest(), sessionTimeoutMs: 100 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
      expect((yield* gc.join(joinRequest("stranger"))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      const a = yield* gc.join(joinRequest())
      yield* gc.sync({ groupId: "g", generationId: 1, memberId: a.memberId, assignments: [] })
      const other = yield* gc.join({ ...joinRequest(), protocols: [{ name: "sticky", metadata: new Uint8Array() }] })
      expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
      expect((yield* gc.join({ ...joinRequest(), protocolType: "connect" })).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL)
    }),
  )

  it.scoped("as Kafka 4.4 answers (found by the differential test): session timeouts from 6 s by default, MEMBER_ID_REQUIRED from JoinGroup v4, commits into groups that do not exist", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      expect((yield* gc.join({ ...joinRequest(), sessionTimeoutMs: 5_999 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
      expect((yield* gc.join({ ...joinRequest(), sessionTimeoutMs: 1_800_001 })).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT)
      const asked = yield* gc.join({ ...joinRequest(), apiVersion: 4 })
      expect(asked).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1, members: [] })
      // a member id handed out is not a member yet: the group does not rebalance for it
      expect((yield* gc.describe("g"))?.members).toEqual([])
      const joined = yield* gc.join({ ...joinRequest(asked.memberId), apiVersion: 4 })
      expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, memberId: asked.memberId, leader: asked.memberId })
      // a static member (group instance id) is not asked
      expect((yield* gc.join({ ...joinRequest("", "s"), groupId: "static", groupInstanceId: "i-1", apiVersion: 5 })).errorCode).toBe(ErrorCode.NONE)

      // a generation for a group that does not exist; no generation (with or without a member id) creates it, Empty
      expect(yield* gc.commit("nothing", 1, "ghost", [{ topic: "t", partition: 0, offset: 1n, metadata: null }])).toBe(ErrorCode.ILLEGAL_GENERATION)
      expect((yield* gc.describe("nothing"))).toBeUndefined()
      expect(yield* gc.commit("nothing", -1, "ghost", [{ topic: "t", partition: 0, offset: 1n, metadata: null }])).toBe(ErrorCode.NONE)
      expect((yield* gc.describe("nothing"))?.state).toBe("Empty")
      // an unknown member while the group completes a rebalance: UNKNOWN_MEMBER_ID first
      expect(yield* gc.validateCommit("g", 1, "ghost")).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
      expect(yield* gc.validateCommit("g", 1, joined.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
    }),
  )

  it.scoped("a rejoin without a change: the current generation back while completing, or for a follower while stable; the leader's rejoin and changed metadata rebalance", () =>
    Effect.gen(function* () {
      const gc = yield* make()
      const a = yield* gc.join(joinRequest("", "a"))
      // lost its JoinGroup answer and asks again before SyncGroup: the same generation, no rebalance
      const again = yield* gc.join(joinRequest(a.memberId, "a"))
      expect(again).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: a.memberId, memberId: a.memberId })
      expect(again.members.map((m) => m.memberId)).toEqual([a.memberId])
      expect((yield* gc.describe("g"))?.state).toBe("CompletingRebalance")
      yield* gc.sync({ groupId: "g", generationId: 1, memberId: a.memberId, assignments: [] })

      const bJoin = yield* Effect.fork(gc.join(joinRequest("", "b")))
      yield* TestClock.adjust("10 millis")
      expect(yield* gc.heartbeat("g", 1, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS)
      yield* gc.join(joinRequest(a.memberId, "a"))
      const b = yield* Fiber.join(bJoin)
      yield* gc.sync({ groupId: "g", generationId: 2, memberId: a.memberId, assignments: [] })
      expect((yield* gc.describe("g"))?.state).toBe("Stable")

      // a follower with the same protocols: generation 2 again, the group stays stable
      expect(yield* gc.join(joinRequest(b.memberId, "b"))).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: a.memberId, members: [] })
      expect((yield* gc.describe("g"))?.state).toBe("Stable")
      // the follower with other metadata: a rebalance
      const changed = yield* Effect.fork(gc.join({ ...joinRequest(b.memberId, "b"), protocols: [{ name: "range", metadata: Uint8Array.of(2) }] }))
      yield* TestClock.adjust("10 millis")
      expect((yield* gc.describe("g"))?.state).toBe("PreparingRebalance")
      yield* gc.join(joinRequest(a.memberId, "a"))
      expect((yield* Fiber.join(changed)).generationId).toBe(3)
      yield* gc.sync({ groupId: "g", generationId: 3, memberId: a.memberId, assignments: [] })
      // the leader with the same protocols: a rebalance too (it may want to reassign)
      const leader = yield* Effect.fork(gc.join(joinRequest(a.memberId, "a")))
      yield* TestClock.adjust("10 millis")
      expect((yield* gc.describe("g"))?.state).toBe("PreparingRebalance")
      yield* gc.join({ ...joinRequest(b.memberId, "b"), protocols: [{ name: "range", metadata: Uint8Array.of(2) }] })
      expect((yield* Fiber.join(leader)).generationId).toBe(4)
    }),
  )
})
