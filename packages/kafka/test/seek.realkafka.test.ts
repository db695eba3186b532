/**
 * Seeks on a three-node Apache Kafka cluster (one per file), through core's `Consumer` over
 * `KafkaClient.layer`: seekToBeginning/seekToEnd over nine partitions whose leaders are three
 * different brokers; seeks given before `assign`; seeks given in a group before its first
 * assignment; and seeks made during rebalances while a second member joins and leaves
 * (`GroupConsumer.subscribe` over `GroupCoordinatorLive`). Asserted as a user sees it: positions,
 * the records delivered (none from before a seek after it), the ListOffsets calls made.
 */
import { layer } from "@effect/vitest"
import {
  Consumer,
  type ConsumerRecord,
  GroupConsumer,
  GroupCoordinator,
  type GroupMembership,
  TopicPartition,
} from "@kafka-effect/core"
import { ApacheKafka } from "@kafka-effect/testkit"
import { Chunk, Context, type Duration, Effect, ExecutionStrategy, Exit, Fiber, Layer, Ref, Schedule, Scope, Stream } from "effect"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../src/group/GroupCoordinatorLive.js"
import * as KafkaClient from "../src/KafkaClient.js"
import { observedConsumer, seen, take } from "./harness/Observed.js"
import * as Producer from "./harness/Producer.js"
import * as RealAdmin from "./harness/RealAdmin.js"
import * as RealKafka from "./harness/RealKafka.js"

const PARTITIONS = 9

const clientLayer = Layer.unwrapEffect(
  Effect.map(ApacheKafka.ApacheKafka, (cluster) => KafkaClient.layer({ brokers: cluster.brokers })),
)

const testLayer = Layer.provideMerge(clientLayer, ApacheKafka.layer({ nodes: 3 }))

const brokersOf = Effect.map(ApacheKafka.ApacheKafka, (cluster) => cluster.brokers)

const tools = Effect.flatMap(brokersOf, (brokers) => Effect.all({ admin: RealAdmin.make(brokers), producer: Producer.make(brokers) }))

const partitionsOf = (topic: string) => Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(topic, p))

/** A topic of nine partitions, replication factor 3, whose leaders are the three brokers. */
const spreadTopic = (admin: RealAdmin.RealAdmin, prefix: string) =>
  Effect.gen(function* () {
    const topic = RealKafka.topicName(prefix)
    yield* admin.createTopic({ topic, partitions: PARTITIONS, replicationFactor: 3 })
    const leaders = yield* admin.leaders(topic)
    expect(leaders.size).toBe(PARTITIONS)
    expect(new Set(leaders.values()).size).toBe(3)
    return topic
  })

/** `round-p-i` values: `n(p)` records to each partition, in one batch per partition. */
const produceRound = (producer: Producer.ProducerService, topic: string, round: string, n: (p: number) => number) =>
  Effect.forEach(
    Array.from({ length: PARTITIONS }, (_, p) => p),
    (p) => producer.send(topic, p, Array.from({ length: n(p) }, (_, i) => ({ value: `${round}-${p}-${i}` }))),
    { concurrency: PARTITIONS, discard: true },
  )

const byPartition = (records: Iterable<ConsumerRecord.ConsumerRecord>) => {
  const out = new Map<number, Array<string>>()
  for (const line of seen(records)) {
    const p = Number(line.slice(0, line.indexOf("@")))
    const list = out.get(p) ?? []
    list.push(line)
    out.set(p, list)
  }
  return out
}

const positions = (consumer: Consumer.Service<never>, tps: ReadonlyArray<TopicPartition.TopicPartition>) =>
  Effect.forEach(tps, (tp) => consumer.position(tp))

/** Polls `check` every 100ms until it holds; dies naming `what` after `within`. */
const until = (what: string, check: () => boolean, within: Duration.DurationInput = "30 seconds") =>
  RealAdmin.eventually(what, Effect.sync(() => (check() ? true : undefined)), within)

/** The member's next Stable state after generation `after`; fails at once if the membership fails. */
const stable = (sub: GroupConsumer.GroupSubscription, after?: number) =>
  Effect.raceFirst(sub.membership.awaitStable(after), sub.membership.failure)

/**
 * OffsetCommit with generation -1 and no member id, through GroupCoordinatorLive, retried while the
 * coordinator is away; returns the committed offsets read back.
 */
const commitOutsideMembership = (groupId: string, offsets: ReadonlyArray<GroupCoordinator.OffsetToCommit>) =>
  Effect.gen(function* () {
    const brokers = yield* brokersOf
    const port = Context.get(yield* Layer.build(GroupCoordinatorLive.layer({ brokers })), GroupCoordinator.GroupCoordinator)
    return yield* Effect.gen(function* () {
      const coordinator = yield* port.findCoordinator(groupId)
      yield* port.offsetCommit({ groupId, coordinator, generationId: -1, memberId: "", offsets })
      const read = yield* port.offsetFetch({ groupId, coordinator, partitions: offsets.map((o) => TopicPartition.make(o.topic, o.partition)) })
      return read.map((c) => c.offset)
    }).pipe(
      Effect.retry({ schedule: Schedule.spaced("200 millis").pipe(Schedule.upTo("20 seconds")), while: (e) => "retriable" in e && e.retriable }),
      Effect.orDie,
    )
  }).pipe(Effect.scoped)

const groupOptions = (groupId: string, listener?: GroupMembership.RebalanceListener): GroupConsumer.SubscribeOptions => ({
  groupId,
  sessionTimeout: "10 seconds",
  rebalanceTimeout: "10 seconds",
  heartbeatInterval: "300 millis",
  autoCommitInterval: "500 millis",
  ...(listener === undefined ? {} : { listener }),
})

/**
 * A group member of ours with its own coordinator connection (a broker answers one connection's
 * requests in order, so another member's blocking JoinGroup must not hold its heartbeats back),
 * consuming in a fiber into `delivered`, marking each chunk processed. `stop` ends it (commit, LeaveGroup).
 */
const member = (
  topic: string,
  groupId: string,
  setup: (consumer: Consumer.Service<never>) => Effect.Effect<void> = () => Effect.void,
  listener?: GroupMembership.RebalanceListener,
) =>
  Effect.gen(function* () {
    const brokers = yield* brokersOf
    const scope = yield* Scope.fork(yield* Scope.Scope, ExecutionStrategy.sequential)
    const coordinator = yield* Layer.buildWithScope(GroupCoordinatorLive.layer({ brokers, requestTimeout: "15 seconds" }), scope).pipe(Effect.orDie)
    const consumer = yield* Consumer.make({ config: { maxWait: "100 millis", autoOffsetReset: "earliest" } }).pipe(Scope.extend(scope))
    yield* setup(consumer)
    const sub = yield* GroupConsumer.subscribe(consumer, [topic], groupOptions(groupId, listener)).pipe(
      Scope.extend(scope),
      Effect.provide(coordinator),
    )
    const delivered: Array<ConsumerRecord.ConsumerRecord> = []
    const fiber = yield* sub.chunks.pipe(
      Stream.runForEach((chunk) =>
        Effect.zipRight(Effect.sync(() => delivered.push(...chunk)), sub.markProcessed(Chunk.toReadonlyArray(chunk))),
      ),
      Effect.forkDaemon,
    )
    const stop = Effect.zipRight(Fiber.interrupt(fiber), Scope.close(scope, Exit.void))
    return { consumer, sub, delivered, stop }
  })

const values = (records: Iterable<ConsumerRecord.ConsumerRecord>) => seen(records).map((s) => s.slice(s.indexOf("=") + 1))

layer(testLayer, { excludeTestServices: true, timeout: "180 seconds" })("seeks on a three-node Apache Kafka cluster", (it) => {
  it.scoped(
    "seekToBeginning and seekToEnd over nine partitions led by three brokers: one ListOffsets call for all, positions 0 and the ends, then exactly the records after them",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = yield* spreadTopic(admin, "s-spread")
        const tps = partitionsOf(topic)
        yield* produceRound(producer, topic, "a", (p) => p + 2)
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis" } })
        yield* consumer.assign(tps)

        yield* consumer.seekToBeginning()
        expect(yield* positions(consumer, tps)).toEqual(tps.map(() => 0n))
        expect(calls.lists).toEqual([`earliest:${tps.map(TopicPartition.format).join(",")}`])
        const all = byPartition(yield* take(consumer, tps.reduce((n, tp) => n + tp.partition + 2, 0)))
        for (const tp of tps) {
          expect(all.get(tp.partition)).toEqual(Array.from({ length: tp.partition + 2 }, (_, i) => `${tp.partition}@${i}=a-${tp.partition}-${i}`))
        }

        yield* consumer.seekToEnd()
        expect(yield* positions(consumer, tps)).toEqual(tps.map((tp) => BigInt(tp.partition + 2)))
        expect(calls.lists.slice(1)).toEqual([`latest:${tps.map(TopicPartition.format).join(",")}`])
        yield* produceRound(producer, topic, "b", () => 1)
        const after = byPartition(yield* take(consumer, PARTITIONS))
        for (const tp of tps) expect(after.get(tp.partition)).toEqual([`${tp.partition}@${tp.partition + 2}=b-${tp.partition}-0`])
        // One fetch loop per leader: every Fetch asked only partitions of one broker, and every
        // broker was asked.
        const leaders = yield* admin.leaders(topic)
        const leaderOf = (f: string) => leaders.get(Number(f.slice(f.lastIndexOf("-") + 1, f.indexOf("@"))))
        const brokersAsked = calls.fetches.map((f) => new Set(f.map(leaderOf)))
        expect(brokersAsked.every((b) => b.size === 1)).toBe(true)
        expect(new Set(brokersAsked.flatMap((b) => [...b])).size).toBe(3)
      }),
    60_000,
  )

  it.scoped(
    "seeks given before assign (seekToEnd of all, then an exact seek and a seekToBeginning of one each) apply when the partitions are assigned",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = yield* spreadTopic(admin, "s-before")
        const tps = partitionsOf(topic)
        yield* produceRound(producer, topic, "a", () => 3)
        const { consumer, calls } = yield* observedConsumer({ config: { maxWait: "100 millis" } })
        yield* consumer.seekToEnd()
        yield* consumer.seek(tps[0]!, 1n)
        yield* consumer.seekToBeginning([tps[1]!])
        expect(calls.lists).toEqual([])
        yield* consumer.assign(tps)
        expect(yield* positions(consumer, tps)).toEqual([1n, 0n, ...tps.slice(2).map(() => 3n)])
        expect([...calls.lists].sort()).toEqual([
          `earliest:${topic}-1`,
          `latest:${tps.slice(2).map(TopicPartition.format).join(",")}`,
        ])
        yield* produceRound(producer, topic, "b", () => 1)
        const got = byPartition(yield* take(consumer, 2 + 3 + PARTITIONS))
        expect(got.get(0)).toEqual(["0@1=a-0-1", "0@2=a-0-2", "0@3=b-0-0"])
        expect(got.get(1)).toEqual(["1@0=a-1-0", "1@1=a-1-1", "1@2=a-1-2", "1@3=b-1-0"])
        for (const tp of tps.slice(2)) expect(got.get(tp.partition)).toEqual([`${tp.partition}@3=b-${tp.partition}-0`])
      }),
    60_000,
  )

  it.scoped(
    "in a group, seeks given before the first assignment beat the group's committed offsets",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = yield* spreadTopic(admin, "s-group-before")
        const groupId = RealKafka.topicName("s-group-before")
        const tps = partitionsOf(topic)
        yield* produceRound(producer, topic, "a", () => 4)
        // The group has committed offset 2 everywhere (a commit outside membership, through our port,
        // which on this fresh cluster also meets COORDINATOR_NOT_AVAILABLE first: retried here).
        const committed = yield* commitOutsideMembership(groupId, tps.map((tp) => ({ topic, partition: tp.partition, offset: 2n })))
        expect(committed).toEqual(tps.map(() => 2n))
        const m = yield* member(topic, groupId, (consumer) =>
          Effect.all([consumer.seekToEnd(), consumer.seek(tps[0]!, 0n), consumer.seekToBeginning([tps[1]!])], { discard: true }).pipe(
            Effect.orDie,
          ),
        )
        const joined = yield* stable(m.sub)
        expect(joined.assignment.length).toBe(PARTITIONS)
        // Nothing new is produced yet: the partitions sought to the end stay there. (Partitions 0
        // and 1 are being consumed; their records below show where they started.)
        expect(yield* positions(m.consumer, tps.slice(2))).toEqual(tps.slice(2).map(() => 4n))
        yield* produceRound(producer, topic, "b", () => 1)
        yield* until("the new records on every partition", () => new Set(values(m.delivered).filter((v) => v.startsWith("b-"))).size === PARTITIONS)
        const got = byPartition(m.delivered)
        expect(got.get(0)).toEqual(["0@0=a-0-0", "0@1=a-0-1", "0@2=a-0-2", "0@3=a-0-3", "0@4=b-0-0"])
        expect(got.get(1)).toEqual(["1@0=a-1-0", "1@1=a-1-1", "1@2=a-1-2", "1@3=a-1-3", "1@4=b-1-0"])
        for (const tp of tps.slice(2)) expect(got.get(tp.partition)).toEqual([`${tp.partition}@4=b-${tp.partition}-0`])
        yield* m.stop
      }),
    60_000,
  )

  it.scoped(
    "seekToEnd during rebalances (a second member joins, then leaves): kept partitions start at the end, nothing produced before the seek is delivered after it, moved partitions continue from the committed offsets",
    () =>
      Effect.gen(function* () {
        const { admin, producer } = yield* tools
        const topic = yield* spreadTopic(admin, "s-rebalance")
        const groupId = RealKafka.topicName("s-rebalance")
        yield* produceRound(producer, topic, "r1", () => 5)

        // Runs inside the member's onRevoked, i.e. during the rebalance, with delivery suspended.
        const duringRebalance = yield* Ref.make<Effect.Effect<void>>(Effect.void)
        const seekDuring = (consumer: Consumer.Service<never>, round: string) =>
          Ref.set(
            duringRebalance,
            Effect.gen(function* () {
              yield* Ref.set(duringRebalance, Effect.void)
              // Records produced now, before the seek: never delivered to this member from kept partitions.
              yield* produceRound(producer, topic, round, () => 1)
              yield* Effect.orDie(consumer.seekToEnd())
            }),
          )
        const a = yield* member(topic, groupId, undefined, {
          onRevoked: () => Effect.flatten(Ref.get(duringRebalance)),
        })
        const first = yield* stable(a.sub)
        expect(first.assignment.length).toBe(PARTITIONS)
        yield* until("the first round", () => a.delivered.length === PARTITIONS * 5)

        // B joins. During that rebalance A produces "old" (offset 5 everywhere) and seeks to the end.
        yield* seekDuring(a.consumer, "old")
        const b = yield* member(topic, groupId)
        const second = yield* stable(a.sub, first.generationId)
        const bStable = yield* stable(b.sub)
        expect(bStable.generationId).toBe(second.generationId)
        const kept = second.assignment
        const moved = bStable.assignment
        expect(kept.length + moved.length).toBe(PARTITIONS)
        expect(kept.length).toBeGreaterThan(0)
        expect(moved.length).toBeGreaterThan(0)
        // A's kept partitions are at the end as of the seek: 6 (5 of r1, 1 of old).
        expect(yield* positions(a.consumer, kept)).toEqual(kept.map(() => 6n))

        yield* produceRound(producer, topic, "new", () => 1)
        yield* until(
          "the new records on every partition",
          () => values([...a.delivered, ...b.delivered]).filter((v) => v.startsWith("new-")).length === PARTITIONS,
        )
        const aAfter1 = byPartition(a.delivered.slice(PARTITIONS * 5))
        for (const tp of kept) expect(aAfter1.get(tp.partition)).toEqual([`${tp.partition}@6=new-${tp.partition}-0`])
        // B continues the moved partitions from A's commit on revoke (5): old, then new.
        const bGot = byPartition(b.delivered)
        for (const tp of moved) {
          expect(bGot.get(tp.partition)).toEqual([`${tp.partition}@5=old-${tp.partition}-0`, `${tp.partition}@6=new-${tp.partition}-0`])
        }

        // B leaves. During that rebalance A produces "old2" (offset 7) and seeks to the end again.
        const aBefore2 = a.delivered.length
        yield* seekDuring(a.consumer, "old2")
        yield* b.stop
        const third = yield* stable(a.sub, second.generationId)
        expect(third.assignment.length).toBe(PARTITIONS)
        expect(yield* positions(a.consumer, kept)).toEqual(kept.map(() => 8n))
        yield* produceRound(producer, topic, "final", () => 1)
        yield* until("the final records on every partition", () => values(a.delivered).filter((v) => v.startsWith("final-")).length === PARTITIONS)
        const aAfter2 = byPartition(a.delivered.slice(aBefore2))
        // Kept through both rebalances: only what was produced after the second seek.
        for (const tp of kept) expect(aAfter2.get(tp.partition)).toEqual([`${tp.partition}@8=final-${tp.partition}-0`])
        // Back from B: from B's committed offset (7, what it processed), so old2 arrives too.
        for (const tp of moved) {
          expect(aAfter2.get(tp.partition)).toEqual([`${tp.partition}@7=old2-${tp.partition}-0`, `${tp.partition}@8=final-${tp.partition}-0`])
        }
        // Nothing from before a seek reached A after it: no "old" record at all.
        expect(values(a.delivered).filter((v) => v.startsWith("old-"))).toEqual([])
        yield* a.stop
      }),
    90_000,
  )
})
