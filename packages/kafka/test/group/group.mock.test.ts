/**
 * Consumer groups against librdkafka's mock cluster: two consumers of ours and one kafkajs consumer
 * (the public client, which no one here wrote) in one group share six partitions; one of ours
 * leaves; the others take over; nothing is lost; the committed offsets, read back with kafkajs's
 * admin, are what was processed.
 */
import { layer } from "@effect/vitest"
import { Assignor, Consumer, GroupConsumer, GroupCoordinator, TopicPartition } from "@kafka-effect/core"
import { Chunk, type Duration, Effect, Exit, Fiber, Layer, Schedule, Scope, Stream } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../../src/group/GroupCoordinatorLive.js"
import * as MockCluster from "../harness/MockCluster.js"
import * as MockTestBroker from "../harness/MockTestBroker.js"
import * as Producer from "../harness/Producer.js"
import * as Wait from "../harness/Wait.js"

/** FindCoordinator's API key, and Kafka's COORDINATOR_NOT_AVAILABLE. */
const FIND_COORDINATOR = 10
const COORDINATOR_NOT_AVAILABLE = 15

const TOPIC = "grp"
const GROUP = "grp-mixed"
const PARTITIONS = 6

const groupLayer = Layer.unwrapEffect(
  Effect.map(MockCluster.MockCluster, (m) => GroupCoordinatorLive.layer({ brokers: m.brokers, requestTimeout: "15 seconds" })),
)

const testLayer = Layer.provideMerge(groupLayer, MockTestBroker.layer(1))

/**
 * Each consumer gets its own coordinator connection, as in every client: a broker answers the
 * requests of one connection in order, so another member's blocking JoinGroup on a shared
 * connection would hold this member's heartbeats back.
 */
const ownCoordinator = (scope: Scope.Scope) =>
  Effect.flatMap(MockCluster.MockCluster, (m) =>
    Layer.buildWithScope(GroupCoordinatorLive.layer({ brokers: m.brokers, requestTimeout: "15 seconds" }), scope),
  ).pipe(Effect.orDie)

interface Seen {
  readonly who: string
  readonly partition: number
  readonly offset: bigint
}

/** Polls `check` every 100ms (real time) until it holds, or fails after `within`. */
const eventually = (what: string | (() => string), check: () => boolean, within: Duration.DurationInput = "30 seconds") =>
  Wait.until(what, check, within, "100 millis")

const ours = (name: string, seen: Array<Seen>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope))
    const coordinator = yield* ownCoordinator(scope)
    const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], {
      groupId: GROUP,
      sessionTimeout: "6 seconds",
      rebalanceTimeout: "10 seconds",
      heartbeatInterval: "300 millis",
      autoCommitInterval: "500 millis",
      // librdkafka's mock (2.0.2) takes the leader's first protocol and asserts that every member
      // lists it first (a real broker picks a protocol all members share): kafkajs's first.
      assignors: [Assignor.kafkajsRoundRobin, Assignor.range, Assignor.roundRobin],
    }).pipe(Scope.extend(scope), Effect.provide(coordinator))
    const fiber = yield* sub.chunks.pipe(
      Stream.runForEach((chunk) =>
        Effect.gen(function* () {
          for (const r of chunk) seen.push({ who: name, partition: r.partition, offset: r.offset })
          yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
        }),
      ),
      Effect.forkDaemon,
    )
    const stop = Effect.zipRight(Fiber.interrupt(fiber), Scope.close(scope, Exit.void))
    return { sub, stop }
  })

layer(testLayer, { excludeTestServices: true, timeout: "90 seconds" })("consumer group over librdkafka's mock cluster", (it) => {
  it.scoped(
    "two of ours and one kafkajs consumer share six partitions; one of ours leaves; nothing lost; committed offsets match",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        yield* mock.createTopic(TOPIC, PARTITIONS)
        const produce = (round: string) =>
          Effect.forEach(Array.from({ length: PARTITIONS }, (_, p) => p), (p) =>
            producer.send(TOPIC, p, Array.from({ length: 10 }, (_, i) => ({ value: `${round}-${p}-${i}` }))),
          )
        yield* produce("a")

        const seen: Array<Seen> = []
        const kafka = new Kafka({ brokers: [...mock.brokers], clientId: "kafkajs-peer", logLevel: logLevel.NOTHING })
        const peer = kafka.consumer({
          groupId: GROUP,
          sessionTimeout: 6000,
          rebalanceTimeout: 10000,
          heartbeatInterval: 300,
          retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
        })
        yield* Effect.acquireRelease(Effect.promise(() => peer.connect()), () => Effect.promise(() => peer.disconnect()))
        yield* Effect.promise(() => peer.subscribe({ topic: TOPIC, fromBeginning: true }))
        yield* Effect.promise(() =>
          peer.run({
            autoCommitInterval: 500,
            eachMessage: async ({ partition, message }) => {
              seen.push({ who: "kafkajs", partition, offset: BigInt(message.offset) })
            },
          }),
        )
        const o1 = yield* ours("o1", seen)
        const o2 = yield* ours("o2", seen)

        const delivered = (p: number, upTo: number) => {
          const offsets = new Set(seen.filter((s) => s.partition === p).map((s) => s.offset))
          for (let o = 0; o < upTo; o++) if (!offsets.has(BigInt(o))) return false
          return true
        }
        const allDelivered = (upTo: number) => Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => delivered(p, upTo))

        // All three members end up in one stable generation, two partitions each.
        yield* eventually("first round delivered", () => allDelivered(10))
        let split: ReadonlyArray<number> = []
        yield* Effect.gen(function* () {
          const deadline = Date.now() + 30_000
          while (Date.now() < deadline) {
            const a = yield* o1.sub.membership.state
            const b = yield* o2.sub.membership.state
            if (a._tag === "Stable" && b._tag === "Stable" && a.generationId === b.generationId) {
              split = [a.assignment.length, b.assignment.length]
              if (split[0] === 2 && split[1] === 2) return
            }
            yield* Effect.sleep("200 millis")
          }
          console.log(yield* o1.sub.membership.state, yield* o2.sub.membership.state)
        })
        // Ours have two each; the kafkajs member the other two (the group chose kafkajs's protocol).
        expect(split).toEqual([2, 2])
        const s1 = yield* o1.sub.membership.awaitStable()
        expect(s1.protocol).toBe("RoundRobinAssigner")

        // o2 leaves cleanly: the others take its partitions at once.
        yield* o2.stop
        yield* produce("b")
        yield* eventually("second round delivered by the remaining members", () => allDelivered(20))
        const late = seen.filter((s) => s.offset >= 10n)
        expect(late.every((s) => s.who !== "o2")).toBe(true)
        expect(new Set(late.map((s) => s.who))).toEqual(new Set(["o1", "kafkajs"]))

        // Stop everyone (each commits what it processed), then read the group's offsets back with kafkajs's admin.
        yield* o1.stop
        yield* Effect.promise(() => peer.disconnect())
        const admin = kafka.admin()
        yield* Effect.promise(() => admin.connect())
        const fetched = yield* Effect.promise(() => admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }))
        yield* Effect.promise(() => admin.disconnect())
        const committed = fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0]))
        expect(committed).toEqual(Array.from({ length: PARTITIONS }, (_, p) => [p, "20"]))
        // And through our own port: the same.
        const port = yield* GroupCoordinator.GroupCoordinator
        const c = yield* port.findCoordinator(GROUP)
        const ourRead = yield* port.offsetFetch({
          groupId: GROUP,
          coordinator: c,
          partitions: Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(TOPIC, p)),
        })
        expect(ourRead.map((o) => o.offset)).toEqual(Array.from({ length: PARTITIONS }, () => 20n))
      }),
    90_000,
  )

  it.scoped(
    "FindCoordinator answered COORDINATOR_NOT_AVAILABLE (a new cluster, a coordinator moving) is retried: the port fails with the retriable CoordinatorNotAvailable, and a member joins after it",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const port = yield* GroupCoordinator.GroupCoordinator
        const group = "grp-coordinator-away"
        yield* mock.pushErrors(FIND_COORDINATOR, [COORDINATOR_NOT_AVAILABLE])
        const first = yield* Effect.either(port.findCoordinator(group))
        expect(first).toMatchObject({ _tag: "Left", left: { _tag: "CoordinatorNotAvailable", code: COORDINATOR_NOT_AVAILABLE, retriable: true } })

        yield* mock.createTopic("grp-away", 1)
        yield* mock.pushErrors(FIND_COORDINATOR, [COORDINATOR_NOT_AVAILABLE, COORDINATOR_NOT_AVAILABLE])
        const consumer = yield* Consumer.make({ config: { maxWait: "100 millis" } })
        const sub = yield* GroupConsumer.subscribe(consumer, ["grp-away"], {
          groupId: group,
          sessionTimeout: "6 seconds",
          heartbeatInterval: "300 millis",
          retrySchedule: Schedule.spaced("50 millis"),
          assignors: [Assignor.range],
        })
        const stable = yield* Effect.raceFirst(sub.membership.awaitStable(), sub.membership.failure)
        expect(stable.assignment.map(TopicPartition.format)).toEqual(["grp-away-0"])
      }),
    30_000,
  )
})
