/**
 * core's `GroupCoordinator` and `TopicMetadata` ports over a real cluster, through kafkajs's broker
 * requests (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit,
 * Metadata). It keeps its own kafkajs cluster (its own connections, as a coordinator connection is
 * in other clients), with kafkajs's retrier off: the membership logic in core retries on its
 * Schedule. Its failures become core's group errors in `internal/errors.ts` (`groupFailure`).
 *
 * @since 0.1.0
 */
import {
  GroupCoordinator,
  type GroupError,
  type KafkaError,
  TopicPartition,
} from "@kafka-effect/core"
import { Context, Effect, Layer, Ref, type Scope } from "effect"
import { type KafkaOptions, validate } from "../internal/config.js"
import * as Errors from "../internal/errors.js"
import { scopedCluster } from "../internal/cluster.js"
import * as K from "../internal/kafkajs.js"

type Port = GroupCoordinator.GroupCoordinator["Type"]

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * What `make` builds: the `GroupCoordinator` port over the cluster and the topic metadata the group
 * leader assigns from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly coordinator: Port
  readonly metadata: GroupCoordinator.TopicMetadata["Type"]
}

/**
 * The ports over a kafkajs cluster that lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: KafkaOptions): Effect.Effect<Service, KafkaError.InvalidConfig, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* validate(options)
    const cluster = yield* scopedCluster(config, { clientId: `${config.clientId}-group`, isolationLevel: 0 })

    // kafkajs finds brokers (the coordinator too) through loaded metadata: loaded once, on first use.
    const metadataLoaded = yield* Ref.make(false)
    const tryKafka = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => e })
    const connected = Effect.zipRight(
      tryKafka(async () => {
        if (!cluster.isConnected()) await cluster.connect()
      }),
      Effect.flatMap(Ref.get(metadataLoaded), (loaded) =>
        loaded ? Effect.void : Effect.zipRight(tryKafka(() => cluster.refreshMetadata()), Ref.set(metadataLoaded, true)),
      ),
    )

    const call = <A>(
      facts: Errors.GroupFacts,
      f: () => Promise<A>,
    ): Effect.Effect<A, GroupError.GroupFailure> =>
      Effect.zipRight(connected, tryKafka(f)).pipe(
        Effect.mapError((e) => Errors.groupFailure(e, facts)),
        Effect.withSpan(`kafka.group.${facts.api}`, { attributes: { groupId: facts.groupId } }),
      )

    /** The coordinator's connection; a broker the metadata does not know yet gets one refresh. */
    const brokerFor = (c: GroupCoordinator.Coordinator): Promise<K.GroupBroker> =>
      cluster
        .findBroker({ nodeId: c.nodeId })
        .catch(async (e: unknown) => {
          if (!Errors.isKafkaJSErrorNamed(e, "KafkaJSBrokerNotFound")) throw e
          await cluster.refreshMetadata()
          return cluster.findBroker({ nodeId: c.nodeId })
        })
        .then(K.groupBroker)

    // Each lookup starts at the next broker.
    const findCoordinatorCalls = yield* Ref.make(0)
    const coordinator: Port = {
      findCoordinator: (groupId) =>
        Effect.flatMap(Ref.getAndUpdate(findCoordinatorCalls, (n) => n + 1), (start) => call({ groupId, api: "FindCoordinator" }, async () => {
          // Asked broker by broker here, starting at a different one on each call: kafkajs's
          // findGroupCoordinatorMetadata swallows each broker's error, so an answer such as
          // GROUP_AUTHORIZATION_FAILED or COORDINATOR_NOT_AVAILABLE would arrive as a bare "not found".
          if (cluster.getNodeIds().length === 0) await cluster.refreshMetadata()
          const all = cluster.getNodeIds()
          let failure: unknown = new Error("no broker in the metadata")
          for (let i = 0; i < all.length; i++) {
            try {
              const broker = K.groupBroker(await cluster.findBroker({ nodeId: all[(start + i) % all.length] }))
              const { coordinator: c } = await broker.findGroupCoordinator({ groupId, coordinatorType: 0 })
              return { nodeId: c.nodeId, host: c.host, port: c.port }
            } catch (e) {
              if (Errors.classify(e)._tag === "Protocol") throw e
              failure = e
            }
          }
          throw failure
        })),
      joinGroup: (r) =>
        call({ groupId: r.groupId, api: "JoinGroup", memberId: r.memberId, protocols: r.protocols.map((p) => p.name) }, async () => {
          const b = await brokerFor(r.coordinator)
          const a = await b.joinGroup({
            groupId: r.groupId,
            sessionTimeout: r.sessionTimeoutMs,
            rebalanceTimeout: r.rebalanceTimeoutMs,
            memberId: r.memberId,
            protocolType: r.protocolType,
            groupProtocols: r.protocols.map((p) => ({ name: p.name, metadata: toBuffer(p.metadata) })),
          })
          return {
            generationId: a.generationId,
            protocolName: a.groupProtocol,
            leaderId: a.leaderId,
            memberId: a.memberId,
            members: a.members.map((m) => ({ memberId: m.memberId, metadata: new Uint8Array(m.memberMetadata) })),
          }
        }),
      syncGroup: (r) =>
        call({ groupId: r.groupId, api: "SyncGroup", memberId: r.memberId, generationId: r.generationId }, async () => {
          const b = await brokerFor(r.coordinator)
          const a = await b.syncGroup({
            groupId: r.groupId,
            generationId: r.generationId,
            memberId: r.memberId,
            groupAssignment: r.assignments.map((x) => ({ memberId: x.memberId, memberAssignment: toBuffer(x.assignment) })),
          })
          return { assignment: new Uint8Array(a.memberAssignment ?? Buffer.alloc(0)) }
        }),
      heartbeat: (r) =>
        call({ groupId: r.groupId, api: "Heartbeat", memberId: r.memberId, generationId: r.generationId }, async () => {
          const b = await brokerFor(r.coordinator)
          await b.heartbeat({ groupId: r.groupId, groupGenerationId: r.generationId, memberId: r.memberId })
        }),
      leaveGroup: (r) =>
        call({ groupId: r.groupId, api: "LeaveGroup", memberId: r.memberId }, async () => {
          const b = await brokerFor(r.coordinator)
          await b.leaveGroup({ groupId: r.groupId, memberId: r.memberId })
        }),
      offsetFetch: (r) =>
        call({ groupId: r.groupId, api: "OffsetFetch" }, async () => {
          const b = await brokerFor(r.coordinator)
          const topics = [...TopicPartition.groupByTopic(r.partitions)].map(([topic, ps]) => ({
            topic,
            partitions: ps.map((partition) => ({ partition })),
          }))
          const a = await b.offsetFetch({ groupId: r.groupId, topics })
          const byKey = new Map<string, { offset: string; metadata: string | null }>()
          for (const t of a.responses) for (const p of t.partitions) byKey.set(TopicPartition.key({ topic: t.topic, partition: p.partition }), p)
          return r.partitions.map((tp) => {
            const p = byKey.get(TopicPartition.key(tp))
            const offset = p === undefined ? -1n : BigInt(p.offset)
            return { topic: tp.topic, partition: tp.partition, offset: offset < 0n ? undefined : offset, metadata: p?.metadata ?? null }
          })
        }),
      offsetCommit: (r) =>
        call({ groupId: r.groupId, api: "OffsetCommit", memberId: r.memberId, generationId: r.generationId }, async () => {
          const b = await brokerFor(r.coordinator)
          const byTopic = new Map<string, Array<{ partition: number; offset: string; metadata: string | null }>>()
          for (const o of r.offsets) {
            const list = byTopic.get(o.topic) ?? []
            list.push({ partition: o.partition, offset: o.offset.toString(), metadata: o.metadata ?? null })
            byTopic.set(o.topic, list)
          }
          await b.offsetCommit({
            groupId: r.groupId,
            groupGenerationId: r.generationId,
            memberId: r.memberId,
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          })
        }),
    }

    const metadata: GroupCoordinator.TopicMetadata["Type"] = {
      partitionCounts: (topics) =>
        call({ groupId: "", api: "Metadata" }, async () => {
          const out = new Map<string, number>()
          if (topics.length === 0) return out
          await cluster.addMultipleTargetTopics(topics)
          await cluster.refreshMetadata()
          for (const t of topics) {
            try {
              const ps = cluster.findTopicPartitionMetadata(t)
              if (ps.length > 0) out.set(t, ps.length)
            } catch {
              // Unknown topic: no partitions to assign.
            }
          }
          return out
        }),
    }

    return { coordinator, metadata }
  })

/**
 * core's `GroupCoordinator` and `TopicMetadata` over a real cluster, for the layer's lifetime.
 *
 * @example
 * import { Consumer } from "@kafka-effect/core"
 * import { GroupCoordinatorLive, KafkaClient } from "@kafka-effect/kafka"
 * import { Layer } from "effect"
 *
 * // What a group member needs: the consumer's ports and the group coordinator, over one cluster.
 * const options = { brokers: ["127.0.0.1:9092"] }
 * export const live = Consumer.layer().pipe(
 *   Layer.provideMerge(KafkaClient.layer(options)),
 *   Layer.merge(GroupCoordinatorLive.layer(options)),
 * )
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: KafkaOptions,
): Layer.Layer<GroupCoordinator.GroupCoordinator | GroupCoordinator.TopicMetadata, KafkaError.InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(make(options), (s) =>
      Context.make(GroupCoordinator.GroupCoordinator, s.coordinator).pipe(Context.add(GroupCoordinator.TopicMetadata, s.metadata)),
    ),
  )
