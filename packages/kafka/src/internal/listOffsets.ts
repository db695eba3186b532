/**
 * ListOffsets over the cluster: one request per leader in parallel, one timestamp (earliest or
 * latest) per call; leadership errors are retried after a metadata refresh on the client's schedule.
 */
import { ConsumerMetrics, type KafkaError, type OffsetLister, type OffsetSpec, TopicPartition, Tracing } from "@kafka-effect/core"
import { type Context, Effect, Either, Schedule } from "effect"
import type { KafkaConfig } from "./config.js"
import * as Errors from "./errors.js"
import { isolationCode } from "./fetch.js"
import * as K from "./kafkajs.js"
import { dropConnectionIfClosed, type Metadata, tryKafka } from "./metadata.js"
import { brokerAttributes, partitionAttributes } from "./telemetry.js"

const listOffsetsDuration = ConsumerMetrics.tagged(ConsumerMetrics.operationDuration, ConsumerMetrics.tags.operation, "list_offsets")

export const make = (
  config: KafkaConfig,
  cluster: K.Cluster,
  metadata: Metadata,
): Context.Tag.Service<OffsetLister.OffsetLister>["list"] => {
  const { ensureTopics, leaderOf } = metadata
  const listFromBroker = (
    nodeId: number,
    parts: ReadonlyArray<TopicPartition.TopicPartition>,
    spec: OffsetSpec.ListOffsetsSpec,
    all: ReadonlyArray<TopicPartition.TopicPartition>,
  ) =>
    Effect.gen(function* () {
      const broker = yield* tryKafka(() => cluster.findBroker({ nodeId }))
      yield* Effect.annotateCurrentSpan(brokerAttributes(broker, nodeId, config.clientId))
      const timestamp = spec === "earliest" ? -2 : -1
      const proto = K.listOffsetsRequest(broker, {
        replicaId: -1,
        isolationLevel: isolationCode(config.isolationLevel),
        topics: [...TopicPartition.groupByTopic(parts)].map(([topic, partitions]) => ({
          topic,
          partitions: partitions.map((partition) => ({ partition, timestamp })),
        })),
      })
      // kafkajs's decode does not throw on partition errors; its parse does, so it is replaced.
      const decode = (payload: Buffer) => K.decodeListOffsets(proto, payload)
      return yield* tryKafka(() => K.send(broker, proto, { decode, parse: (d) => Promise.resolve(d) })).pipe(
        Effect.tapError((e) => dropConnectionIfClosed(broker, e)),
        ConsumerMetrics.timed(listOffsetsDuration),
      )
    }).pipe(
      Effect.tapError(() => metadata.markStale),
      Effect.mapError((e) => Errors.listOffsetsError(e, all)),
      // The I/O span: one ListOffsets request to one broker.
      Effect.withSpan(`list_offsets ${spec}`, {
        kind: "client",
        attributes: {
          ...partitionAttributes(parts),
          [Tracing.attributes.operationName]: "list_offsets",
          "messaging.kafka.list_offsets.spec": spec,
        },
      }),
    )

  const listOffsets = Effect.fn("KafkaClient.listOffsets")(function* (
    partitions: ReadonlyArray<TopicPartition.TopicPartition>,
    spec: OffsetSpec.ListOffsetsSpec,
  ) {
    const found = new Map<string, bigint>()
    const driver = yield* Schedule.driver(config.retrySchedule)
    yield* metadata.refreshIfStale
    let pending = partitions
    while (pending.length > 0) {
      const topics = [...new Set(pending.map((p) => p.topic))]
      const failedTopics = yield* ensureTopics(topics).pipe(Effect.mapError((e) => Errors.listOffsetsError(e, partitions)))
      const retry: Array<{ readonly tp: TopicPartition.TopicPartition; readonly error: KafkaError.ListOffsetsFailure }> = []
      const byLeader = new Map<number, Array<TopicPartition.TopicPartition>>()
      for (const tp of pending) {
        const topicFailure = failedTopics.get(tp.topic)
        if (topicFailure !== undefined) {
          const error = Errors.topicMetadataError(topicFailure, tp.topic, "ListOffsets") ?? Errors.noLeader(tp.topic, tp.partition, "ListOffsets")
          if (error._tag === "TopicAuthorizationFailed") return yield* error
          retry.push({ tp, error })
          continue
        }
        const leader = leaderOf(tp.topic, tp.partition)
        if (leader === undefined) {
          retry.push({ tp, error: Errors.noLeader(tp.topic, tp.partition, "ListOffsets") })
          continue
        }
        const list = byLeader.get(leader)
        if (list) list.push(tp)
        else byLeader.set(leader, [tp])
      }
      const answers = yield* Effect.forEach(
        byLeader,
        ([nodeId, parts]) => listFromBroker(nodeId, parts, spec, partitions),
        { concurrency: "unbounded" },
      )
      for (const answer of answers) {
        for (const topic of answer.responses) {
          for (const p of topic.partitions) {
            const tp = TopicPartition.make(topic.topic, p.partition)
            if (p.errorCode === 0) {
              const offset = p.offset ?? p.offsets?.[0]
              if (offset === undefined) {
                return yield* Errors.corruptResponse("ListOffsets", `no offset for ${TopicPartition.format(tp)}`)
              }
              found.set(TopicPartition.key(tp), BigInt(offset))
            } else if (Errors.isLeadershipCode(p.errorCode)) {
              retry.push({ tp, error: Errors.listOffsetsCodeError(p.errorCode, tp, partitions) })
            } else {
              return yield* Errors.listOffsetsCodeError(p.errorCode, tp, partitions)
            }
          }
        }
      }
      for (const [, parts] of byLeader) {
        for (const tp of parts) {
          if (!found.has(TopicPartition.key(tp)) && !retry.some((r) => TopicPartition.equals(r.tp, tp))) {
            retry.push({ tp, error: Errors.noLeader(tp.topic, tp.partition, "ListOffsets") })
          }
        }
      }
      if (retry.length === 0) break
      yield* metadata.refresh
      const next = yield* Effect.either(driver.next(retry[0]!.error))
      if (Either.isLeft(next)) return yield* retry[0]!.error
      pending = retry.map((r) => r.tp)
    }
    return partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: found.get(TopicPartition.key(tp))! }))
  })

  return listOffsets
}
