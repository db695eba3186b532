/**
 * The control side of a test broker: what a test does to the broker (produce, cut the log, inject
 * faults) and what it reads back (partition state, the request log). The in-memory model implements
 * all of it; a real peer (librdkafka's mock cluster, the embedded wire broker) implements what it can
 * and says so in `capabilities`. The consumer side is core's ports (`Fetcher`, `OffsetLister`, …),
 * provided by the same layer.
 */
import type { KafkaError, TopicPartition } from "@kafka-effect/core"
import { Context, type Duration, type Effect } from "effect"

/** The APIs a fault or a latency can be attached to. */
export type FaultApi = KafkaError.ApiName

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
  readonly headers?: Readonly<Record<string, string | Uint8Array>>
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
