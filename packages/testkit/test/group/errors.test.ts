import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Effect, Exit, Fiber, type Layer, Option, Ref, Schedule } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker, TestKit } from "../../src/index.js"
import { advance, assignmentOf, type Delivery, GROUP, layer, produceEach, startMember, stopMember } from "./helpers.js"

const TOPIC = "t"

/**
 * What every test here starts from: topic t with 2 partitions, its broker and coordinator, the
 * records delivered, the listener's calls, and every log line.
 */
interface Fixture {
  readonly broker: TestBroker.TestBroker["Type"]
  readonly coordinator: InMemoryCoordinator.InMemoryCoordinator["Type"]
  readonly deliveries: Ref.Ref<Array<Delivery>>
  readonly calls: Array<string>
  readonly logs: Effect.Effect<ReadonlyArray<TestKit.CapturedLog>>
}

const lifecycleMessages = ["Joined group", "Join or sync failed; trying again", "Group membership failed", "Left group"]

/** The group's lifecycle lines, in order, each with the error it names. */
const lifecycle = (lines: ReadonlyArray<TestKit.CapturedLog>) =>
  lines
    .filter((l) => l.annotations.groupId === GROUP && lifecycleMessages.includes(l.message))
    .map((l) => (typeof l.annotations.error === "string" ? `${l.message} (${l.annotations.error})` : l.message))

const scenario = (title: string, body: (f: Fixture) => Effect.Effect<void, unknown, Layer.Layer.Success<ReturnType<typeof layer>>>) =>
  it.effect(
    title,
    () =>
      Effect.gen(function* () {
        const capture = yield* TestKit.makeLogCapture({ quiet: true })
        yield* body({
          broker: yield* TestBroker.TestBroker,
          coordinator: yield* InMemoryCoordinator.InMemoryCoordinator,
          deliveries: yield* Ref.make<Array<Delivery>>([]),
          calls: [],
          logs: capture.logs,
        }).pipe(Effect.provide(capture.layer))
      }).pipe(Effect.provide(layer({ [TOPIC]: 2 }))),
    30_000,
  )

const offsetsOf = (deliveries: ReadonlyArray<Delivery>, member: string, partition: number) =>
  deliveries.filter((d) => d.member === member && d.partition === partition).map((d) => d.offset)

const stableMember = (name: string, deliveries: Ref.Ref<Array<Delivery>>, calls: Array<string>) =>
  startMember(name, [TOPIC], deliveries, {
    listener: () => ({
      onRevoked: (tps) => Effect.sync(() => calls.push(`revoked ${tps.length}`)),
      onAssigned: (tps) => Effect.sync(() => calls.push(`assigned ${tps.length}`)),
      onLost: (tps) => Effect.sync(() => calls.push(`lost ${tps.length}`)),
    }),
  })

describe("group membership errors (TestClock)", () => {
  scenario("a heartbeat answered REBALANCE_IN_PROGRESS: revoke (with commit), rejoin with the same member id, next generation", ({ broker, coordinator, deliveries, calls, logs }) =>
    Effect.gen(function* () {
      yield* produceEach(TOPIC, 2, 3, "a")
      const m1 = yield* stableMember("m1", deliveries, calls)
      const first = yield* m1.sub.membership.awaitStable()
      yield* advance(500)
      yield* broker.failNext("Heartbeat", 1, { _tag: "ErrorCode", code: ErrorCode.REBALANCE_IN_PROGRESS })
      yield* advance(2000)
      const second = yield* m1.sub.membership.awaitStable(first.generationId)
      expect(second.memberId).toBe(first.memberId)
      expect(second.generationId).toBe(first.generationId + 1)
      expect(calls).toEqual(["assigned 2", "revoked 2", "assigned 2"])
      expect((yield* coordinator.commitLog(GROUP)).map((c) => [c.generationId, c.partition, c.offset])).toEqual([
        [first.generationId, 0, 3n],
        [first.generationId, 1, 3n],
      ])
      yield* produceEach(TOPIC, 2, 1, "b")
      yield* advance(1000)
      expect(offsetsOf(yield* Ref.get(deliveries), "m1", 0)).toEqual([0n, 1n, 2n, 3n])
      yield* stopMember(m1)
      expect(lifecycle(yield* logs)).toEqual(["Joined group", "Joined group", "Left group"])
    }),
  )

  scenario("a heartbeat answered UNKNOWN_MEMBER_ID: partitions lost (no commit), rejoin as a new member once the old one is gone", ({ broker, coordinator, deliveries, calls }) =>
    Effect.gen(function* () {
      yield* produceEach(TOPIC, 2, 3, "a")
      const m1 = yield* stableMember("m1", deliveries, calls)
      const first = yield* m1.sub.membership.awaitStable()
      yield* advance(500)
      yield* broker.failNext("Heartbeat", 1, { _tag: "ErrorCode", code: ErrorCode.UNKNOWN_MEMBER_ID })
      // The coordinator still knows the old member id: the rebalance waits for its session to expire.
      yield* advance(15_000)
      const second = yield* m1.sub.membership.awaitStable(first.generationId)
      expect(second.memberId).not.toBe(first.memberId)
      expect(calls).toEqual(["assigned 2", "lost 2", "assigned 2"])
      expect((yield* coordinator.describe(GROUP)).members.map((m) => m.memberId)).toEqual([second.memberId])
      expect((yield* coordinator.events(GROUP)).some((e) => e.event === "SessionExpired" && e.memberId === first.memberId)).toBe(true)
      yield* produceEach(TOPIC, 2, 1, "b")
      yield* advance(1000)
      // Nothing was committed before the loss (auto-commit every 2s had not run), so the rejoined
      // member starts again from the beginning (earliest): at least once, in a new generation.
      const d = yield* Ref.get(deliveries)
      expect(offsetsOf(d, "m1", 0)).toEqual([0n, 1n, 2n, 0n, 1n, 2n, 3n])
      expect(new Set(d.filter((x) => x.partition === 0 && x.offset === 0n).map((x) => x.generationId)).size).toBe(2)
      yield* stopMember(m1)
    }),
  )

  scenario("a heartbeat answered ILLEGAL_GENERATION: partitions lost, rejoin with the same member id", ({ broker, deliveries, calls }) =>
    Effect.gen(function* () {
      const m1 = yield* stableMember("m1", deliveries, calls)
      const first = yield* m1.sub.membership.awaitStable()
      yield* advance(500)
      yield* broker.failNext("Heartbeat", 1, { _tag: "ErrorCode", code: ErrorCode.ILLEGAL_GENERATION })
      yield* advance(2000)
      const second = yield* m1.sub.membership.awaitStable(first.generationId)
      expect(second.memberId).toBe(first.memberId)
      expect(calls).toEqual(["assigned 2", "lost 2", "assigned 2"])
      yield* stopMember(m1)
    }),
  )

  scenario("FindCoordinator answered COORDINATOR_NOT_AVAILABLE three times: retried on the schedule, then joins", ({ broker, deliveries }) =>
    Effect.gen(function* () {
      yield* broker.failNext("FindCoordinator", 3, { _tag: "ErrorCode", code: ErrorCode.COORDINATOR_NOT_AVAILABLE })
      const m1 = yield* startMember("m1", [TOPIC], deliveries)
      yield* advance(5000)
      expect((yield* m1.sub.membership.state)._tag).toBe("Stable")
      const finds = (yield* broker.requests).filter((r) => r.api === "FindCoordinator").map((r) => r.outcome)
      expect(finds).toEqual(["fault", "fault", "fault", "ok"])
      yield* stopMember(m1)
    }),
  )

  scenario("a JoinGroup answered REBALANCE_IN_PROGRESS is tried again, and the log says so once", ({ broker, deliveries, logs }) =>
    Effect.gen(function* () {
      yield* broker.failNext("JoinGroup", 1, { _tag: "ErrorCode", code: ErrorCode.REBALANCE_IN_PROGRESS })
      const m1 = yield* startMember("m1", [TOPIC], deliveries)
      yield* advance(2000)
      expect((yield* m1.sub.membership.state)._tag).toBe("Stable")
      yield* stopMember(m1)
      expect(lifecycle(yield* logs)).toEqual(["Join or sync failed; trying again (RebalanceInProgress)", "Joined group", "Left group"])
    }),
  )

  scenario("a retrySchedule that runs out on REBALANCE_IN_PROGRESS: the member joins again in a new round, the stream never sees the error", ({ broker, deliveries, logs }) =>
    Effect.gen(function* () {
      yield* broker.failNext("JoinGroup", 3, { _tag: "ErrorCode", code: ErrorCode.REBALANCE_IN_PROGRESS })
      const m1 = yield* startMember("m1", [TOPIC], deliveries, { retrySchedule: Schedule.spaced("100 millis").pipe(Schedule.compose(Schedule.recurs(1))) })
      yield* advance(3000)
      expect((yield* m1.sub.membership.state)._tag).toBe("Stable")
      expect(Option.isNone(yield* Fiber.poll(m1.fiber))).toBe(true)
      const rounds = (yield* logs).filter((l) => l.message === "Rejoining group").map((l) => [l.annotations.reason, l.annotations.error])
      expect(rounds).toEqual([["RebalanceInProgress", "RebalanceInProgress"]])
      yield* stopMember(m1)
    }),
  )

  scenario("GROUP_AUTHORIZATION_FAILED on JoinGroup reaches the record stream with its tag; the log says it failed, not that it tries again, nor that it left", ({ broker, deliveries, logs }) =>
    Effect.gen(function* () {
      yield* broker.failNext("JoinGroup", 1, { _tag: "ErrorCode", code: ErrorCode.GROUP_AUTHORIZATION_FAILED })
      const m1 = yield* startMember("m1", [TOPIC], deliveries)
      yield* advance(1000)
      const exit = yield* Fiber.await(m1.fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Option.fromNullable(c._tag === "Fail" ? c.error : undefined))))
        expect(error).toMatchObject({ _tag: "GroupAuthorizationFailed", groupId: GROUP, api: "JoinGroup" })
      }
      yield* stopMember(m1)
      expect(lifecycle(yield* logs)).toEqual(["Group membership failed (GroupAuthorizationFailed)"])
    }),
  )

  scenario("at least once across restarts; a committed offset that retention removed is healed by the recovery step", ({ broker, deliveries }) =>
    Effect.gen(function* () {
      yield* produceEach(TOPIC, 2, 5, "a")
      const m1 = yield* startMember("m1", [TOPIC], deliveries)
      yield* m1.sub.membership.awaitStable()
      yield* advance(1000)
      yield* stopMember(m1)
      const committed = yield* broker.partitionState(TopicPartition.make(TOPIC, 0))
      expect(committed.highWatermark).toBe(5n)
      // While nobody consumes: more records, and retention removes t-0 below 8 (the commit was 5).
      yield* produceEach(TOPIC, 2, 5, "b")
      yield* broker.deleteRecords(TopicPartition.make(TOPIC, 0), 8n)
      const m2 = yield* startMember("m2", [TOPIC], deliveries)
      yield* m2.sub.membership.awaitStable()
      yield* advance(2000)
      const d = yield* Ref.get(deliveries)
      expect(offsetsOf(d, "m1", 0)).toEqual([0n, 1n, 2n, 3n, 4n])
      expect(offsetsOf(d, "m2", 0)).toEqual([8n, 9n])
      expect(offsetsOf(d, "m2", 1)).toEqual([5n, 6n, 7n, 8n, 9n])
      expect(Option.isNone(yield* Fiber.poll(m2.fiber))).toBe(true)
      expect(yield* assignmentOf(m2)).toEqual(["t-0", "t-1"])
      yield* stopMember(m2)
    }),
  )

  scenario("a listener slower than the session timeout does not cost the membership: heartbeats go on meanwhile", ({ coordinator, deliveries }) =>
    Effect.gen(function* () {
      let assigned = 0
      const m1 = yield* startMember("m1", [TOPIC], deliveries, {
        listener: () => ({
          onAssigned: () => Effect.suspend(() => (++assigned === 1 ? Effect.sleep("15 seconds") : Effect.void)),
          onRevoked: () => Effect.sleep("15 seconds"),
        }),
      })
      yield* advance(20_000)
      const first = yield* m1.sub.membership.awaitStable()
      expect(first.generationId).toBe(1)
      // A second member makes m1 revoke, slowly, too.
      const m2 = yield* startMember("m2", [TOPIC], deliveries)
      yield* advance(25_000)
      const g = yield* coordinator.describe(GROUP)
      expect(g.members.map((m) => m.clientId).sort()).toEqual(["m1", "m2"])
      expect((yield* coordinator.events(GROUP)).filter((e) => e.event === "SessionExpired" || e.event === "RemovedAtRebalanceTimeout")).toEqual([])
      expect((yield* m1.sub.membership.state)._tag).toBe("Stable")
      yield* stopMember(m2)
      yield* Effect.fork(stopMember(m1))
      yield* advance(20_000)
    }),
  )
})
