/**
 * The Fetch port: one request over many partitions, one result per partition, and which broker
 * leads which partition (so the consumer runs one fetch loop per leader). Implemented by the kafka
 * package (over a real broker) and the testkit (over the in-memory model).
 */
import { Context, type Effect } from "effect"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import type { FetchFailure, PartitionFetchError } from "./KafkaError.js"
import type { TopicPartition } from "./TopicPartition.js"

export type IsolationLevel = "read_uncommitted" | "read_committed"

export interface FetchPartition {
  readonly topic: string
  readonly partition: number
  /** The offset to fetch from; records below it that come back in the same batch are dropped. */
  readonly offset: bigint
  /** Per-partition byte limit (Kafka's `max.partition.fetch.bytes`). */
  readonly maxBytes: number
}

export interface FetchRequest {
  readonly partitions: ReadonlyArray<FetchPartition>
  /** How long the broker may hold the request while it has less than `minBytes` to answer. */
  readonly maxWaitMs: number
  readonly minBytes: number
  /** Response byte limit (Kafka's `fetch.max.bytes`). */
  readonly maxBytes: number
  readonly isolationLevel: IsolationLevel
}

/** The records of one partition, all at offsets >= the requested offset, in offset order. */
export interface PartitionRecords {
  readonly _tag: "Records"
  readonly topic: string
  readonly partition: number
  readonly records: ReadonlyArray<ConsumerRecord>
  readonly highWatermark: bigint
  /** The log start offset, when the broker says it (Fetch v5+). */
  readonly logStartOffset: bigint | undefined
  /**
   * The offset to fetch next, when the answer moved past offsets that hold no deliverable record
   * (compaction holes at the end of a batch, control records, aborted transactions). Otherwise
   * the next position is the last record's offset + 1.
   */
  readonly nextOffset: bigint | undefined
}

export interface PartitionError {
  readonly _tag: "Error"
  readonly topic: string
  readonly partition: number
  readonly error: PartitionFetchError
}

export type PartitionFetchResult = PartitionRecords | PartitionError

export class Fetcher extends Context.Tag("@kafka-effect/core/Fetcher")<
  Fetcher,
  {
    /**
     * One fetch. The result holds one entry for each requested partition (an implementation that
     * talks to several leaders sends one request per leader and joins the answers). One partition's
     * error is an entry in the result, and never costs the other partitions their records.
     *
     * When the request to one leader fails below the protocol level (connection refused or closed,
     * timeout) while other leaders answered, each of that leader's partitions gets an entry with a
     * `FetchError` (its `brokerId`, `retriable`), and the other partitions keep their records. The
     * whole `fetch` fails with `FetchFailure` only when nothing could be fetched at all (every
     * leader's request failed) or an answer could not be decoded (`CorruptResponse`).
     */
    readonly fetch: (request: FetchRequest) => Effect.Effect<ReadonlyArray<PartitionFetchResult>, FetchFailure>
    /**
     * The broker id that leads each partition, from the implementation's metadata, keyed by
     * `TopicPartition.key`; a partition whose leader is unknown is left out (its fetch reports
     * why). Never fails. The consumer calls it when its assignment changes and after a fetch
     * reported a leadership or connection error, and runs one fetch loop per broker id. An
     * implementation without it is fetched by one loop.
     */
    readonly leaders?: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<ReadonlyMap<string, number>>
  }
>() {}
