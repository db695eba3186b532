/**
 * The control side of a test broker: what a test does to the broker (produce, cut the log, inject
 * faults) and what it reads back (partition state, the request log). The in-memory model implements
 * all of it; a real peer (librdkafka's mock cluster, the embedded wire broker) implements what it can
 * and says so in `capabilities`. The consumer side is core's ports (`Fetcher`, `OffsetLister`, …),
 * provided by the same layer.
 */
import { type ConsumerRecord, ErrorCode, Fetcher, KafkaError, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Context, type Duration, Effect, Either, Layer } from "effect"
import * as BrokerModel from "./BrokerModel.js"

/** The APIs a fault or a latency can be attached to (core's `ApiName` plus the broker-side APIs). */
export type FaultApi = BrokerModel.Api

export type Fault =
  /** The connection closes before an answer (kafkajs: KafkaJSConnectionClosedError). */
  | { readonly _tag: "Network" }
  /** No answer within the request timeout. */
  | { readonly _tag: "Timeout" }
  /** The broker answers with this Kafka error code for every partition in the request (or only `partitions`). */
  | { readonly _tag: "ErrorCode"; readonly code: number }

export interface ProducedRecord {
  readonly key?: string | Uint8Array | null
  readonly value: string | Uint8Array | null
  /** A map, or a list (header keys may repeat, as on the wire). */
  readonly headers?: Readonly<Record<string, string | Uint8Array>> | ReadonlyArray<ConsumerRecord.RecordHeader>
  /** Milliseconds since the epoch; defaults to the broker's Clock. */
  readonly timestamp?: number
}

export interface PartitionState {
  readonly logStartOffset: bigint
  readonly highWatermark: bigint
  /** Offsets that hold a record (compaction leaves holes inside the range). */
  readonly offsets: ReadonlyArray<bigint>
}

export interface RequestLogEntry {
  readonly api: FaultApi
  /** Clock time in milliseconds when the request arrived. */
  readonly at: number
  readonly partitions: ReadonlyArray<TopicPartition.TopicPartition>
  /** "ok", or the fault/error that was answered. */
  readonly outcome: "ok" | "fault"
  /** The request-level fault (Network, Timeout), when one failed the request. */
  readonly fault?: Fault
  /** Partition error codes in the answer, injected or the broker's own (e.g. 1, OFFSET_OUT_OF_RANGE). */
  readonly errors?: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly code: number }>
  /** The broker (node id) a request that came over the wire was addressed to; absent for in-memory ports. */
  readonly brokerId?: number
}

export interface Capabilities {
  readonly deleteRecords: boolean
  readonly compact: boolean
  readonly truncate: boolean
  readonly latency: boolean
  /** Can answer the same fault N times and then heal (librdkafka's request error stack can). */
  readonly faults: boolean
  readonly requestLog: boolean
}

export class TestBroker extends Context.Tag("@kafka-effect/testkit/TestBroker")<
  TestBroker,
  {
    readonly capabilities: Capabilities
    readonly createTopic: (topic: string, partitions: number) => Effect.Effect<void>
    /** Appends records to one partition; returns the offset of the first one. */
    readonly produce: (
      topic: string,
      partition: number,
      records: ReadonlyArray<ProducedRecord>,
    ) => Effect.Effect<bigint>
    /** Moves the log start offset up to `beforeOffset` (retention, DeleteRecords). */
    readonly deleteRecords: (tp: TopicPartition.TopicPartition, beforeOffset: bigint) => Effect.Effect<void>
    /** Keeps the latest record per key (null-keyed records stay), leaving holes inside the range. */
    readonly compact: (tp: TopicPartition.TopicPartition) => Effect.Effect<void>
    /** Moves the high watermark down to `toOffset` (unclean leader election). */
    readonly truncate: (tp: TopicPartition.TopicPartition, toOffset: bigint) => Effect.Effect<void>
    /**
     * The next `count` requests of `api` (that touch one of `partitions`, when given) fail with
     * `fault`. `count` may be `Infinity`.
     */
    readonly failNext: (
      api: FaultApi,
      count: number,
      fault: Fault,
      partitions?: ReadonlyArray<TopicPartition.TopicPartition>,
    ) => Effect.Effect<void>
    /** Every request of `api` is answered after `latency` (on the broker's Clock). */
    readonly setLatency: (api: FaultApi, latency: Duration.DurationInput) => Effect.Effect<void>
    readonly partitionState: (tp: TopicPartition.TopicPartition) => Effect.Effect<PartitionState>
    /** The requests served so far, oldest first. */
    readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
    readonly clearRequests: Effect.Effect<void>
  }
>() {}

type Service = TestBroker["Type"]

/** The control service over the model in context. Control operations on unknown partitions are defects. */
export const make: Effect.Effect<Service, never, BrokerModel.BrokerModel> = Effect.gen(function* () {
  const model = yield* BrokerModel.BrokerModel
  const service: Service = {
    capabilities: { deleteRecords: true, compact: true, truncate: true, latency: true, faults: true, requestLog: true },
    createTopic: (topic, partitions) => Effect.orDie(model.createTopic(topic, partitions)),
    produce: (topic, partition, records) => Effect.orDie(model.produce(TopicPartition.make(topic, partition), records)),
    deleteRecords: (tp, beforeOffset) => Effect.orDie(Effect.asVoid(model.deleteRecords(tp, beforeOffset))),
    compact: (tp) => Effect.orDie(model.compact(tp)),
    truncate: (tp, toOffset) => Effect.orDie(model.truncate(tp, toOffset)),
    failNext: model.failNext,
    setLatency: model.setLatency,
    partitionState: (tp) =>
      Effect.orDie(
        Effect.map(model.partitionState(tp), (s) => ({
          logStartOffset: s.logStartOffset,
          highWatermark: s.highWatermark,
          offsets: s.offsets,
        })),
      ),
    requests: model.requests,
    clearRequests: model.clearRequests,
  }
  return service
})

/**
 * core's `Fetcher` over the model in context, per leader as a wire client fetches: a call's
 * partitions are grouped by the model's current leaders and each group is one model Fetch to that
 * broker, in parallel (a partition whose leader moved meanwhile answers NOT_LEADER_OR_FOLLOWER).
 * `leaders` reads the model's leaders.
 */
export const makeFetcher: Effect.Effect<Fetcher.Fetcher["Type"], never, BrokerModel.BrokerModel> = Effect.gen(
  function* () {
    const model = yield* BrokerModel.BrokerModel
    const leaderOf = (tp: TopicPartition.TopicPartition): Effect.Effect<number | undefined> =>
      model.partitionOffsets(tp).pipe(
        Effect.map((s) => s.leader),
        Effect.orElseSucceed(() => undefined),
      )

    const fetchFrom = (request: Fetcher.FetchRequest, brokerId: number | undefined) =>
      model.fetch(brokerId === undefined ? request : { ...request, brokerId }).pipe(
        Effect.map((results) =>
          results.map((r, i): Fetcher.PartitionFetchResult =>
            r._tag === "Records"
              ? {
                  _tag: "Records",
                  topic: r.topic,
                  partition: r.partition,
                  records: r.records,
                  highWatermark: r.highWatermark,
                  logStartOffset: r.logStartOffset,
                  nextOffset: r.nextOffset,
                }
              : {
                  _tag: "Error",
                  topic: r.topic,
                  partition: r.partition,
                  error: KafkaError.fromFetchCode(r.code, {
                    topic: r.topic,
                    partition: r.partition,
                    requestedOffset: request.partitions[i]!.offset,
                  }),
                },
          ),
        ),
        Effect.catchTag("RequestFault", (fault) =>
          Effect.fail(
            new KafkaError.FetchError({
              partitions: request.partitions.map((p) => TopicPartition.make(p.topic, p.partition)),
              reason: fault.reason,
              retriable: true,
              cause: fault,
              ...(brokerId === undefined ? {} : { brokerId }),
            }),
          ),
        ),
      )

    const fetch: Fetcher.Fetcher["Type"]["fetch"] = (request) =>
      Effect.gen(function* () {
        const groups = new Map<number | undefined, Array<Fetcher.FetchPartition>>()
        for (const p of request.partitions) {
          const leader = yield* leaderOf(p)
          const list = groups.get(leader)
          if (list) list.push(p)
          else groups.set(leader, [p])
        }
        // One broker: the request as it came (its log entry names no broker).
        if (model.brokers.length === 1) return yield* fetchFrom(request, undefined)
        if (groups.size <= 1) return yield* fetchFrom(request, groups.keys().next().value)
        const answers = yield* Effect.forEach(
          groups,
          ([leader, partitions]) => Effect.either(fetchFrom({ ...request, partitions }, leader)),
          { concurrency: "unbounded" },
        )
        // One leader's failure costs only its partitions, unless no leader answered at all.
        const failed = answers.filter(Either.isLeft)
        if (failed.length === answers.length) return yield* failed[0]!.left
        const byKey = new Map<string, Fetcher.PartitionFetchResult>()
        for (const answer of answers) {
          if (Either.isRight(answer)) {
            for (const r of answer.right) byKey.set(TopicPartition.key(r), r)
          } else {
            for (const tp of answer.left.partitions) {
              byKey.set(TopicPartition.key(tp), { _tag: "Error", topic: tp.topic, partition: tp.partition, error: answer.left })
            }
          }
        }
        return request.partitions.flatMap((p) => {
          const r = byKey.get(TopicPartition.key(p))
          return r === undefined ? [] : [r]
        })
      })

    const leaders: NonNullable<Fetcher.Fetcher["Type"]["leaders"]> = (partitions) =>
      Effect.gen(function* () {
        const out = new Map<string, number>()
        for (const tp of partitions) {
          const leader = yield* leaderOf(tp)
          if (leader !== undefined) out.set(TopicPartition.key(tp), leader)
        }
        return out
      })

    return { fetch, leaders }
  },
)

/** core's `OffsetLister` over the model in context. The first partition error fails the whole call. */
export const makeOffsetLister: Effect.Effect<OffsetLister.OffsetLister["Type"], never, BrokerModel.BrokerModel> =
  Effect.gen(function* () {
    const model = yield* BrokerModel.BrokerModel
    return {
      list: (partitions, spec) =>
        model.listOffsets(partitions, spec).pipe(
          Effect.catchTag("RequestFault", (fault) =>
            Effect.fail(
              new KafkaError.ListOffsetsError({ partitions, reason: fault.reason, retriable: true, cause: fault }),
            ),
          ),
          Effect.flatMap((results): Effect.Effect<ReadonlyArray<OffsetLister.PartitionOffset>, KafkaError.ListOffsetsFailure> => {
            const failed = results.find((r) => r.code !== ErrorCode.NONE)
            if (failed === undefined) {
              return Effect.succeed(
                results.map((r): OffsetLister.PartitionOffset => ({
                  topic: r.topic,
                  partition: r.partition,
                  offset: r.offset,
                })),
              )
            }
            switch (failed.code) {
              case ErrorCode.NOT_LEADER_OR_FOLLOWER:
                return Effect.fail(new KafkaError.ListOffsetsError({ partitions, reason: "NotLeader", retriable: true }))
              case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
                return Effect.fail(new KafkaError.TopicAuthorizationFailed({ topic: failed.topic, api: "ListOffsets" }))
              case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
                return Effect.fail(
                  new KafkaError.UnknownTopicOrPartition({
                    topic: failed.topic,
                    partition: failed.partition,
                    api: "ListOffsets",
                  }),
                )
              default:
                return Effect.fail(toBrokerError("ListOffsets", failed))
            }
          }),
        ),
    }
  })

const toBrokerError = (
  api: KafkaError.ApiName,
  r: { readonly topic: string; readonly partition: number; readonly code: number },
): KafkaError.BrokerError => {
  const info = ErrorCode.info(r.code)
  return new KafkaError.BrokerError({
    api,
    code: r.code,
    name: info.name,
    retriable: info.retriable,
    topic: r.topic,
    partition: r.partition,
  })
}

export type LayerOptions = BrokerModel.Options

/** The test broker's faces (control, core's `Fetcher` and `OffsetLister`) over the model in context. */
export const layerFromModel: Layer.Layer<TestBroker | Fetcher.Fetcher | OffsetLister.OffsetLister, never, BrokerModel.BrokerModel> =
  Layer.mergeAll(
    Layer.effect(TestBroker, make),
    Layer.effect(Fetcher.Fetcher, makeFetcher),
    Layer.effect(OffsetLister.OffsetLister, makeOffsetLister),
  )

/**
 * A fresh in-memory broker: `TestBroker` (control), core's `Fetcher` and `OffsetLister`, and the
 * `BrokerModel` they share.
 */
export const layer = (
  options: LayerOptions = {},
): Layer.Layer<TestBroker | Fetcher.Fetcher | OffsetLister.OffsetLister | BrokerModel.BrokerModel> =>
  Layer.provideMerge(layerFromModel, BrokerModel.layer(options))
