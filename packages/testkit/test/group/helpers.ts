import { Consumer, GroupConsumer, GroupCoordinator, type GroupMembership, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, Exit, Fiber, Layer, Ref, Scope, Stream, TestClock } from "effect"
import * as InMemoryCoordinator from "../../src/InMemoryCoordinator.js"
import { TestBroker } from "../../src/index.js"

export const GROUP = "g"

export const layer = (topics: Record<string, number>) =>
  Layer.provideMerge(InMemoryCoordinator.layerFromModel(), TestBroker.layer({ topics }))

export interface Delivery {
  readonly member: string
  readonly generationId: number
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

export interface Member {
  readonly name: string
  readonly consumer: Consumer.Service<never>
  readonly sub: GroupConsumer.GroupSubscription<never>
  readonly scope: Scope.CloseableScope
  readonly fiber: Fiber.RuntimeFiber<void, unknown>
}

export const generationOf = (s: GroupMembership.MemberState): number =>
  s._tag === "Stable" || s._tag === "Rebalancing" || s._tag === "Syncing" ? s.generationId : -1

/**
 * Starts a member: its own consumer over the broker and its own coordinator client, consuming in a
 * fiber that logs each delivered record with the member's generation at delivery.
 */
export const startMember = (
  name: string,
  topics: ReadonlyArray<string>,
  deliveries: Ref.Ref<Array<Delivery>>,
  options: Partial<Omit<GroupConsumer.SubscribeOptions, "listener">> & {
    readonly beforeSubscribe?: (consumer: Consumer.Service<never>) => Effect.Effect<void, unknown>
    readonly listener?: (consumer: Consumer.Service<never>) => GroupMembership.RebalanceListener
  } = {},
) =>
  Effect.gen(function* () {
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    const scope = yield* Scope.make()
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "100 millis" } }).pipe(Scope.extend(scope))
    if (options.beforeSubscribe) yield* options.beforeSubscribe(consumer)
    const { beforeSubscribe: _b, listener, ...rest } = options
    const sub = yield* GroupConsumer.subscribe(consumer, topics, {
      groupId: GROUP,
      sessionTimeout: "10 seconds",
      heartbeatInterval: "1 second",
      rebalanceTimeout: "20 seconds",
      autoCommitInterval: "2 seconds",
      ...rest,
      ...(listener ? { listener: listener(consumer) } : {}),
    }).pipe(
      Scope.extend(scope),
      Effect.provideService(GroupCoordinator.GroupCoordinator, coordinator.client(name)),
    )
    const fiber = yield* sub.chunks.pipe(
      Stream.runForEach((chunk) =>
        Effect.gen(function* () {
          const generationId = generationOf(yield* sub.membership.state)
          const out = Chunk.toReadonlyArray(chunk).map((r) => ({ member: name, generationId, topic: r.topic, partition: r.partition, offset: r.offset }))
          yield* Ref.update(deliveries, (all) => [...all, ...out])
          // Done with this chunk: a stop (interruption) after this point must not re-deliver it.
          yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
        }),
      ),
      Effect.forkDaemon,
    )
    return { name, consumer, sub, scope, fiber } satisfies Member
  })

/** Stops consuming, then closes the member's scope: commit, LeaveGroup. */
export const stopMember = (m: Member) =>
  Effect.gen(function* () {
    yield* Fiber.interrupt(m.fiber)
    yield* Scope.close(m.scope, Exit.void)
  })

/** The process dies: the coordinator never hears from it again; nothing it does afterwards gets through. */
export const killMember = (m: Member) =>
  Effect.gen(function* () {
    const coordinator = yield* InMemoryCoordinator.InMemoryCoordinator
    yield* coordinator.disconnect(m.name)
    yield* Fiber.interrupt(m.fiber)
    // Its finalizer's commit and LeaveGroup fail (network); run it in the background on the TestClock.
    yield* Effect.forkDaemon(Scope.close(m.scope, Exit.void))
  })

/** Moves the TestClock in steps so that fetch loops, heartbeats and timers all get their turn. */
export const advance = (millis: number, step = 250) =>
  Effect.gen(function* () {
    for (let t = 0; t < millis; t += step) yield* TestClock.adjust(`${step} millis`)
  })

export const produceEach = (topic: string, partitions: number, count: number, tag: string) =>
  Effect.gen(function* () {
    const broker = yield* TestBroker.TestBroker
    for (let p = 0; p < partitions; p++) {
      yield* broker.produce(topic, p, Array.from({ length: count }, (_, i) => ({ value: `${tag}-${p}-${i}` })))
    }
  })

export const assignmentOf = (m: Member) => Effect.map(m.sub.assignment, (tps) => tps.map(TopicPartition.format))
