/**
 * The Fetch port: one request over many partitions, one result per partition, and which broker
 * leads which partition (so the consumer runs one fetch loop per leader). Implemented by the kafka
 * package (over a real broker) and the testkit (over the in-memory model).
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import type { CorruptRecordBatch, FetchFailure, PartitionFetchError } from "./KafkaError.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * Which records a fetch may return: `read_uncommitted` (everything up to the high watermark) or
 * `read_committed` (aborted transactions hidden, up to the last stable offset).
 *
 * @since 0.1.0
 * @category models
 */
export type IsolationLevel = "read_uncommitted" | "read_committed"

/**
 * One partition of a fetch request: where to start and how many bytes it may bring.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchPartition {
  readonly topic: string
  readonly partition: number
  /** The offset to fetch from; records below it that come back in the same batch are dropped. */
  readonly offset: bigint
  /** Per-partition byte limit (Kafka's `max.partition.fetch.bytes`). */
  readonly maxBytes: number
}

/**
 * One fetch over many partitions, with the broker-side limits (Kafka's Fetch request fields).
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchRequest {
  readonly partitions: ReadonlyArray<FetchPartition>
  /** How long the broker may hold the request while it has less than `minBytes` to answer. */
  readonly maxWaitMs: number
  readonly minBytes: number
  /** Response byte limit (Kafka's `fetch.max.bytes`). */
  readonly maxBytes: number
  readonly isolationLevel: IsolationLevel
  /**
   * The caller decodes records when it hands them out: a fetcher that can may answer a partition
   * with `deferred` records instead of `records` (the consumer asks for it; absent or false, every
   * partition comes decoded). What a broker's answer says about its batches (their offsets, their
   * CRCs, their transactions) is still checked when the answer comes.
   */
  readonly deferDecoding?: boolean
}

/**
 * What decoding deferred records gave: the records in offset order, their key and value bytes,
 * and the first batch that failed to decode (the records before it are in `records`; the ones of
 * that batch and after it are not).
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedRecords {
  readonly records: ReadonlyArray<ConsumerRecord>
  /** Key and value bytes of `records`. */
  readonly bytes: number
  readonly corrupt: CorruptRecordBatch | undefined
}

/**
 * A partition's records, checked but not decoded yet (see `FetchRequest.deferDecoding`): decoded
 * when they are handed out, so that a record is built just before it is delivered (records that
 * live briefly are cheap for V8's garbage collector; an answer decoded at once is not).
 *
 * @since 0.1.0
 * @category models
 */
export interface DeferredRecords {
  /** The offset after the last batch: the next fetch position once these are delivered. */
  readonly next: bigint
  /** How many records the batches hold (their headers' count: at most that many are delivered). */
  readonly count: number
  /** The bytes the records take in the answer (what a fetch buffer counts). */
  readonly bytes: number
  /** Decodes the records (once: the caller keeps what it gives). */
  readonly decode: () => DecodedRecords
}

/**
 * The records of one partition, all at offsets >= the requested offset, in offset order.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionRecords {
  readonly _tag: "Records"
  readonly topic: string
  readonly partition: number
  /** The records (empty when `deferred` holds them). */
  readonly records: ReadonlyArray<ConsumerRecord>
  /** Records left to decode when handed out (only when the request set `deferDecoding`). */
  readonly deferred?: DeferredRecords | undefined
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

/**
 * A partition whose fetch failed: the error is its own, the other partitions of the request keep
 * their records.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionError {
  readonly _tag: "Error"
  readonly topic: string
  readonly partition: number
  readonly error: PartitionFetchError
}

/**
 * The answer for one partition of a fetch: its records or its error.
 *
 * @since 0.1.0
 * @category models
 */
export type PartitionFetchResult = PartitionRecords | PartitionError

/**
 * The port that fetches records (Kafka's Fetch), and tells which broker leads which partition.
 * The consumer fetches through it; the kafka package and the testkit provide it.
 *
 * @since 0.1.0
 * @category services
 */
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
