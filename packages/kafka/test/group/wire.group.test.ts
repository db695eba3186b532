/**
 * One group, three kinds of members, one broker: the testkit's embedded wire broker, whose groups
 * are run by the shared InMemoryCoordinator. Ours over the wire (KafkaClient + GroupCoordinatorLive,
 * i.e. kafkajs's requests), ours in memory (the coordinator's port directly), and a kafkajs
 * consumer. With our default assignors (range first) and kafkajs offering only RoundRobinAssigner,
 * the coordinator picks the one protocol all share. A member leaves; the others take over.
 */
import { layer } from "@effect/vitest"
import { Consumer, GroupConsumer, GroupCoordinator, type GroupMembership, TopicPartition } from "@kafka-effect/core"
import { EmbeddedBroker, InMemoryCoordinator, TestBroker } from "@kafka-effect/testkit"
import { Chunk, type Duration, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { expect } from "vitest"
import * as GroupCoordinatorLive from "../../src/group/GroupCoordinatorLive.js"
import * as KafkaClient from "../../src/KafkaClient.js"
import * as Wait from "../harness/Wait.js"

const TOPIC = "w"
const GROUP = "wire-mixed"
const PARTITIONS = 6

const eventually = (what: string | (() => string), check: () => boolean, within: Duration.DurationInput = "30 seconds") =>
  Wait.until(what, check, within, "50 millis")

interface Seen {
  readonly who: string
  readonly partition: number
  readonly offset: bigint
}

const options = {
  groupId: GROUP,
  sessionTimeout: "6 seconds",
  heartbeatInterval: "200 millis",
  autoCommitInterval: "300 millis",
} as const

/** Consumes in a daemon fiber; `stop` stops it and closes its scope (commit, LeaveGroup). */
const run = (who: string, sub: GroupConsumer.GroupSubscription, scope: Scope.CloseableScope, seen: Array<Seen>) =>
  Effect.gen(function* () {
    const fiber = yield* sub.chunks.pipe(
      Stream.runForEach((chunk) =>
        Effect.gen(function* () {
          for (const r of chunk) seen.push({ who, partition: r.partition, offset: r.offset })
          yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
        }),
      ),
      Effect.forkDaemon,
    )
    return { sub, stop: Effect.zipRight(Fiber.interrupt(fiber), Scope.close(scope, Exit.void)) }
  })

const overTheWire = (seen: Array<Seen>) =>
  Effect.gen(function* () {
    const broker = yield* EmbeddedBroker.EmbeddedBroker
    const scope = yield* Scope.make()
    const kafka = { brokers: broker.brokers, clientId: "ours-wire" }
    const ctx = yield* Layer.buildWithScope(Layer.merge(KafkaClient.layer(kafka), GroupCoordinatorLive.layer(kafka)), scope).pipe(Effect.orDie)
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope), Effect.provide(ctx), Effect.orDie)
    const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], options).pipe(Scope.extend(scope), Effect.provide(ctx))
    return yield* run("wire", sub, scope, seen)
  })

const inMemory = (seen: Array<Seen>) =>
  Effect.gen(function* () {
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope), Effect.orDie)
    const sub = yield* GroupConsumer.subscribe(consumer, [TOPIC], options).pipe(
      Scope.extend(scope),
      Effect.provideService(GroupCoordinator.GroupCoordinator, coordinator.client("ours-memory")),
    )
    return yield* run("memory", sub, scope, seen)
  })

const stableWith = (sub: GroupConsumer.GroupSubscription, n: number) =>
  sub.membership.states.pipe(
    Stream.filter((s): s is Extract<GroupMembership.MemberState, { _tag: "Stable" }> => s._tag === "Stable" && s.assignment.length === n),
    Stream.runHead,
    Effect.flatMap(Effect.orDie),
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`no stable assignment of ${n}`) }),
    Effect.orDie,
  )

layer(EmbeddedBroker.layer({ topics: { [TOPIC]: PARTITIONS } }), { excludeTestServices: true, timeout: "60 seconds" })(
  "one group over the embedded wire broker: ours over the wire, ours in memory, kafkajs",
  (it) => {
    it.scoped("they share six partitions under the protocol all offer; one leaves; nothing lost; commits at the end of the log", () =>
      Effect.gen(function* () {
        const broker = yield* EmbeddedBroker.EmbeddedBroker
        const control = yield* TestBroker.TestBroker
        const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
        const produce = (round: string) =>
          Effect.forEach(Array.from({ length: PARTITIONS }, (_, p) => p), (p) =>
            control.produce(TOPIC, p, Array.from({ length: 5 }, (_, i) => ({ value: `${round}-${p}-${i}` }))),
          )
        yield* produce("a")
        const seen: Array<Seen> = []

        const kafka = new Kafka({ brokers: [...broker.brokers], clientId: "kafkajs-peer", logLevel: logLevel.NOTHING })
        const peer = kafka.consumer({ groupId: GROUP, sessionTimeout: 6000, heartbeatInterval: 200, rebalanceTimeout: 10000 })
        yield* Effect.acquireRelease(Effect.promise(() => peer.connect()), () => Effect.promise(() => peer.disconnect()))
        yield* Effect.promise(() => peer.subscribe({ topic: TOPIC, fromBeginning: true }))
        yield* Effect.promise(() =>
          peer.run({
            autoCommitInterval: 300,
            eachMessage: async ({ partition, message }) => {
              seen.push({ who: "kafkajs", partition, offset: BigInt(message.offset) })
            },
          }),
        )
        const wire = yield* overTheWire(seen)
        const memory = yield* inMemory(seen)

        const delivered = (upTo: number) =>
          Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => {
            const offsets = new Set(seen.filter((s) => s.partition === p).map((s) => s.offset))
            for (let o = 0; o < upTo; o++) if (!offsets.has(BigInt(o))) return false
            return true
          })
        yield* Effect.all([stableWith(wire.sub, 2), stableWith(memory.sub, 2)], { concurrency: 2 })
        yield* eventually("first round", () => delivered(5))
        const g = yield* coordinator.describe(GROUP)
        expect(g.members.length).toBe(3)
        expect(g.protocolName).toBe("RoundRobinAssigner")

        // Ours over the wire leaves: the other two take its partitions.
        yield* wire.stop
        yield* stableWith(memory.sub, 3)
        yield* produce("b")
        yield* eventually("second round", () => delivered(10))
        expect(new Set(seen.filter((s) => s.offset >= 5n).map((s) => s.who))).toEqual(new Set(["memory", "kafkajs"]))

        yield* memory.stop
        yield* Effect.promise(() => peer.disconnect())
        const port = coordinator.client("reader")
        const c = yield* port.findCoordinator(GROUP)
        const offsets = yield* port.offsetFetch({
          groupId: GROUP,
          coordinator: c,
          partitions: Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(TOPIC, p)),
        })
        expect(offsets.map((o) => o.offset)).toEqual(Array.from({ length: PARTITIONS }, () => 10n))
      }),
      60_000,
    )
  },
)
