/**
 * Metadata of the client's kafkajs cluster: topics loaded on demand (the ones that failed named),
 * partition leaders indexed once per answer, refreshes, and the "stale" mark that a failed request
 * leaves for the next call to refresh first.
 */
import { type KafkaError, TopicPartition } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import * as Errors from "./errors.js"
import { MetadataError } from "./errors.js"
import type * as K from "./kafkajs.js"

export const tryKafka = <A>(f: () => Promise<A>): Effect.Effect<A, unknown> => Effect.tryPromise({ try: f, catch: (e) => e })

/** Closes a broker connection that a transport failure left behind, so the next request reconnects. */
export const dropConnectionIfClosed = (broker: K.Broker, e: unknown) =>
  Effect.promise(async () => {
    if (Errors.classify(e)._tag === "Transport") await broker.disconnect().catch(() => undefined)
  })

export interface Metadata {
  /** Loads metadata for these topics; topics that do not exist or are not authorized are returned with their error. */
  readonly ensureTopics: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, unknown>, unknown>
  /** Refreshes metadata; a failure is logged (the next request reports what it finds). */
  readonly refresh: Effect.Effect<void>
  /** The leader of a partition from the last metadata answer, if it has one. */
  readonly leaderOf: (topic: string, partition: number) => number | undefined
  /** After a connection failure or timeout: the next call refreshes metadata before routing. */
  readonly markStale: Effect.Effect<void>
  /** Refreshes metadata when a failed request marked it stale. */
  readonly refreshIfStale: Effect.Effect<void>
  /**
   * The leader of each partition (keyed by `TopicPartition.key`), after loading its topic and
   * refreshing when a failed request marked metadata stale; partitions without one are left out.
   */
  readonly leaders: (partitions: ReadonlyArray<TopicPartition.TopicPartition>) => Effect.Effect<ReadonlyMap<string, number>>
  /** The partition ids of a topic, from metadata. */
  readonly partitionsFor: (
    topic: string,
  ) => Effect.Effect<
    ReadonlyArray<number>,
    MetadataError | KafkaError.UnknownTopicOrPartition | KafkaError.TopicAuthorizationFailed
  >
}

export const make = (cluster: K.Cluster): Effect.Effect<Metadata> => Effect.map(Ref.make(false), (stale) => {
    /** Loads metadata for these topics; topics that do not exist or are not authorized are returned. */
    const ensureTopics = (topics: ReadonlyArray<string>) =>
      tryKafka(async () => {
        const failed = new Map<string, unknown>()
        if (!cluster.isConnected()) await cluster.connect()
        const missing = topics.filter((t) => !cluster.targetTopics.has(t))
        if (missing.length === 0) return failed
        try {
          await cluster.addMultipleTargetTopics(missing)
        } catch (e) {
          if (Errors.topicMetadataError(e, "") === undefined) throw e
          // One bad topic fails the whole metadata answer: find out which.
          for (const t of missing) {
            try {
              await cluster.addMultipleTargetTopics([t])
            } catch (e1) {
              if (Errors.topicMetadataError(e1, t) === undefined) throw e1
              failed.set(t, e1)
            }
          }
        }
        return failed
      })

    const refreshMetadata = tryKafka(() => cluster.refreshMetadata()).pipe(
      Effect.catchAll((e) => Effect.logDebug("kafka: metadata refresh failed", String(e))),
    )

    // partition → leader per topic, indexed once per metadata answer (the arrays change on refresh).
    const leaderIndex = new WeakMap<ReadonlyArray<K.PartitionMetadata>, Map<number, number>>()
    const leaderOf = (topic: string, partition: number): number | undefined => {
      let partitions: ReadonlyArray<K.PartitionMetadata>
      try {
        partitions = cluster.findTopicPartitionMetadata(topic)
      } catch {
        return undefined
      }
      let index = leaderIndex.get(partitions)
      if (index === undefined) {
        index = new Map()
        for (const m of partitions) if (m.leader !== null && m.leader >= 0) index.set(m.partitionId, m.leader)
        leaderIndex.set(partitions, index)
      }
      return index.get(partition)
    }

    const markStale = Ref.set(stale, true)
    const refreshIfStale = Effect.flatMap(Ref.getAndSet(stale, false), (was) => (was ? refreshMetadata : Effect.void))

    const leaders: Metadata["leaders"] = (partitions) =>
      Effect.gen(function* () {
        yield* refreshIfStale
        yield* Effect.ignore(ensureTopics([...new Set(partitions.map((p) => p.topic))]))
        const out = new Map<string, number>()
        for (const p of partitions) {
          const leader = leaderOf(p.topic, p.partition)
          if (leader !== undefined) out.set(TopicPartition.key(p), leader)
        }
        return out
      })

    const partitionsFor = Effect.fn("KafkaClient.partitionsFor")(function* (topic: string) {
      const failed = yield* ensureTopics([topic]).pipe(Effect.mapError((e) => Errors.metadataError(e, [topic])))
      const failure = failed.get(topic)
      if (failure !== undefined) {
        return yield* Errors.topicMetadataError(failure, topic) ??
          new MetadataError({ topics: [topic], reason: "Unknown", retriable: false, cause: failure })
      }
      const ids = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)
      return [...ids].sort((a, b) => a - b)
    })

    return { ensureTopics, refresh: refreshMetadata, leaderOf, markStale, refreshIfStale, leaders, partitionsFor }
})
