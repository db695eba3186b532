/**
 * Tagged errors. Each carries the facts as fields, says whether a retry can help (a fact that never
 * varies is a field of the class), keeps the driver's error as `cause`, and builds its `message` from
 * the facts. The kafka package maps kafkajs errors to these in one place (`internal/errors.ts`).
 *
 * @since 0.1.0
 */
import { Data, Predicate } from "effect"
import * as ErrorCode from "./ErrorCode.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * Marks every error of this module; `isKafkaError` tests for it.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@kafka-effect/core/KafkaError")
/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Which protocol API a failure came from.
 *
 * @since 0.1.0
 * @category models
 */
export type ApiName =
  | "Metadata"
  | "Fetch"
  | "ListOffsets"
  | "FindCoordinator"
  | "JoinGroup"
  | "SyncGroup"
  | "Heartbeat"
  | "LeaveGroup"
  | "OffsetCommit"
  | "OffsetFetch"

/**
 * How a request failed below the protocol level. `Authentication`: the broker refused the SASL
 * credentials (never retriable: retrying the same credentials cannot help).
 *
 * @since 0.1.0
 * @category errors
 */
export type TransportReason = "Network" | "Timeout" | "NotLeader" | "Authentication" | "Unknown"

/**
 * The broker answered OFFSET_OUT_OF_RANGE for a fetch at `requestedOffset`:
 * it lies outside `[logStartOffset, highWatermark]`.
 *
 * @since 0.1.0
 * @category errors
 */
export class OffsetOutOfRange extends Data.TaggedError("OffsetOutOfRange")<{
  readonly topic: string
  readonly partition: number
  readonly requestedOffset: bigint
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Offset ${this.requestedOffset} is out of range for ${this.topic}-${this.partition}`
  }
}

/**
 * A ListOffsets call failed (network, timeout, leadership moved). Distinct from
 * `OffsetOutOfRange`: when it happens while healing an out-of-range fetch, `outOfRange` carries the
 * facts of the fetch that was being healed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListOffsetsError extends Data.TaggedError("ListOffsetsError")<{
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly reason: TransportReason
  readonly retriable: boolean
  readonly outOfRange?: OffsetOutOfRange
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const parts = this.partitions.map((tp) => `${tp.topic}-${tp.partition}`).join(", ")
    const healing = this.outOfRange
      ? ` while recovering ${this.outOfRange.topic}-${this.outOfRange.partition} from out-of-range offset ${this.outOfRange.requestedOffset}`
      : ""
    return `ListOffsets failed (${this.reason}) for ${parts}${healing}`
  }
}

/**
 * A Fetch request failed below the protocol level (connection, timeout, leadership). As the failure
 * of a whole `fetch` it names every partition; as one partition's entry in a fetch result it is the
 * failure of the request to that partition's leader (`brokerId`), while other leaders answered.
 *
 * @since 0.1.0
 * @category errors
 */
export class FetchError extends Data.TaggedError("FetchError")<{
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly reason: TransportReason
  readonly retriable: boolean
  readonly brokerId?: number
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Fetch failed (${this.reason})${this.brokerId === undefined ? "" : ` at broker ${this.brokerId}`}`
  }
}

/**
 * TOPIC_AUTHORIZATION_FAILED. Never healed, never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class TopicAuthorizationFailed extends Data.TaggedError("TopicAuthorizationFailed")<{
  readonly topic: string
  readonly api: ApiName
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Not authorized to access topic ${this.topic} (${this.api})`
  }
}

/**
 * UNKNOWN_TOPIC_OR_PARTITION, or a topic that metadata does not list.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownTopicOrPartition extends Data.TaggedError("UnknownTopicOrPartition")<{
  readonly topic: string
  readonly partition?: number
  readonly api: ApiName
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return this.partition === undefined
      ? `Unknown topic ${this.topic}`
      : `Unknown topic or partition ${this.topic}-${this.partition}`
  }
}

/**
 * Any other error code a broker answered with, kept with its code and name.
 *
 * @since 0.1.0
 * @category errors
 */
export class BrokerError extends Data.TaggedError("BrokerError")<{
  readonly api: ApiName
  readonly code: number
  readonly name: string
  readonly retriable: boolean
  readonly topic?: string
  readonly partition?: number
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const where = this.topic === undefined ? "" : ` for ${this.topic}${this.partition === undefined ? "" : `-${this.partition}`}`
    return `${this.api} answered ${this.name} (${this.code})${where}`
  }
}

/**
 * A seek or position named a partition that is not assigned to this consumer.
 *
 * @since 0.1.0
 * @category errors
 */
export class PartitionNotAssigned extends Data.TaggedError("PartitionNotAssigned")<{
  readonly topic: string
  readonly partition: number
  readonly operation: string
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.operation}: partition ${this.topic}-${this.partition} is not assigned to this consumer`
  }
}

/**
 * The broker keeps answering OFFSET_OUT_OF_RANGE for an offset inside the range it lists.
 * Recovery gives up after `attempts` rather than loop.
 *
 * @since 0.1.0
 * @category errors
 */
export class OffsetRecoveryExhausted extends Data.TaggedError("OffsetRecoveryExhausted")<{
  readonly topic: string
  readonly partition: number
  readonly requestedOffset: bigint
  readonly earliest: bigint
  readonly latest: bigint
  readonly attempts: number
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.topic}-${this.partition}: broker still answers out of range at ${this.requestedOffset}, inside log start ${this.earliest}, end ${this.latest}, after ${this.attempts} attempts`
  }
}

/**
 * A partition named by the caller is not a topic name and a partition number (`topic` a non-empty string, `partition` an integer >= 0).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTopicPartition extends Data.TaggedError("InvalidTopicPartition")<{
  readonly operation: string
  readonly topic: unknown
  readonly partition: unknown
}> {
  override get message(): string {
    return `${this.operation}: ${formatValue(this.topic)}-${formatValue(this.partition)} is not a partition (topic must be a non-empty string, partition an integer >= 0)`
  }
}

/**
 * `seek` was given an offset that no record can have: not a bigint, or negative.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOffset extends Data.TaggedError("InvalidOffset")<{
  readonly topic: string
  readonly partition: number
  readonly offset: unknown
}> {
  override get message(): string {
    return `seek: offset ${formatValue(this.offset)} for ${this.topic}-${this.partition} is not an offset (a bigint >= 0n)`
  }
}

/**
 * The consumer was used after the scope it was made in had closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConsumerClosed extends Data.TaggedError("ConsumerClosed")<{
  readonly operation: string
}> {
  override get message(): string {
    return `${this.operation}: the consumer's scope is closed`
  }
}

/**
 * A configuration value is invalid. Names the field and the value.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfig extends Data.TaggedError("InvalidConfig")<{
  readonly field: string
  readonly value: unknown
  readonly reason: string
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid config ${this.field}=${formatValue(this.value)}: ${this.reason}`
  }
}

/**
 * A partition has no committed offset and `autoOffsetReset` is `none`: the consumer does not guess
 * where to start. Seek the partition to give it a position.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoOffsetForPartition extends Data.TaggedError("NoOffsetForPartition")<{
  readonly topic: string
  readonly partition: number
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.topic}-${this.partition} has no committed offset and autoOffsetReset is none`
  }
}

/**
 * A fetched record batch failed its CRC-32C, or its lengths, offsets or counts cannot be (a broker
 * bug, corruption on disk or on the way, a hostile peer). Nothing of it is delivered, and the
 * partition's position stays at `offset` (the batch's base offset); records before it are
 * delivered. Retrying reads the same bytes again: seek past it to go on (as with Java's consumer).
 *
 * @since 0.1.0
 * @category errors
 */
export class CorruptRecordBatch extends Data.TaggedError("CorruptRecordBatch")<{
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly reason: string
}> {
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = false
  override get message(): string {
    return `Corrupt record batch in ${this.topic}-${this.partition} at offset ${this.offset}: ${this.reason}`
  }
}

/**
 * A broker answer could not be decoded or does not make sense.
 *
 * @since 0.1.0
 * @category errors
 */
export class CorruptResponse extends Data.TaggedError("CorruptResponse")<{
  readonly api: ApiName
  readonly reason: string
  readonly cause?: unknown
}> {

  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Corrupt ${this.api} response: ${this.reason}`
  }
}

const formatValue = (value: unknown): string => {
  if (typeof value === "bigint") return `${value}n`
  if (typeof value === "string") return JSON.stringify(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * One partition's error code in a Fetch answer as its tagged error, the same whichever broker
 * answered: OFFSET_OUT_OF_RANGE, TOPIC_AUTHORIZATION_FAILED and UNKNOWN_TOPIC_OR_PARTITION have
 * their own tags, any other code is a `BrokerError` with Kafka's name and retriable flag.
 *
 * @since 0.1.0
 * @category mapping
 */
export const fromFetchCode = (
  code: number,
  facts: { readonly topic: string; readonly partition: number; readonly requestedOffset: bigint },
): PartitionFetchError => {
  const { topic, partition, requestedOffset } = facts
  switch (code) {
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return new OffsetOutOfRange({ topic, partition, requestedOffset })
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
      return new TopicAuthorizationFailed({ topic, api: "Fetch" })
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return new UnknownTopicOrPartition({ topic, partition, api: "Fetch" })
    default:
      return new BrokerError({ api: "Fetch", code, name: ErrorCode.name(code), retriable: ErrorCode.isRetriable(code), topic, partition })
  }
}

/**
 * An error that a single partition of a Fetch answer can carry. `FetchError` there is the failure of
 * the request to the partition's leader while the other leaders answered.
 *
 * @since 0.1.0
 * @category errors
 */
export type PartitionFetchError =
  | OffsetOutOfRange
  | FetchError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | CorruptRecordBatch

/**
 * What `OffsetLister.list` can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ListOffsetsFailure =
  | ListOffsetsError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | CorruptResponse

/**
 * What `Fetcher.fetch` can fail with as a whole.
 *
 * @since 0.1.0
 * @category models
 */
export type FetchFailure = FetchError | CorruptResponse

/**
 * Every error of this module.
 *
 * @since 0.1.0
 * @category errors
 */
export type KafkaError =
  | OffsetOutOfRange
  | ListOffsetsError
  | FetchError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | PartitionNotAssigned
  | OffsetRecoveryExhausted
  | InvalidConfig
  | NoOffsetForPartition
  | CorruptResponse

/**
 * Whether `u` is one of this module's errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isKafkaError = (u: unknown): u is KafkaError => Predicate.hasProperty(u, TypeId)
