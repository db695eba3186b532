/**
 * Tagged errors. Each carries the facts as fields, says whether a retry can help (a fact that never
 * varies is a field of the class), keeps the driver's error as `cause`, and builds its `message` from
 * the facts. The kafka package maps kafkajs errors to these in one place (`internal/errors.ts`).
 */
import { Data, Predicate } from "effect"
import type { TopicPartition } from "./TopicPartition.js"

/** Marks every error of this module; `isKafkaError` tests for it. */
export const TypeId: unique symbol = Symbol.for("@kafka-effect/core/KafkaError")
export type TypeId = typeof TypeId

/** Which protocol API a failure came from. */
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
 */
export type TransportReason = "Network" | "Timeout" | "NotLeader" | "Authentication" | "Unknown"

/**
 * The broker answered OFFSET_OUT_OF_RANGE for a fetch at `requestedOffset`:
 * it lies outside `[logStartOffset, highWatermark]`.
 */
export class OffsetOutOfRange extends Data.TaggedError("OffsetOutOfRange")<{
  readonly topic: string
  readonly partition: number
  readonly requestedOffset: bigint
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Offset ${this.requestedOffset} is out of range for ${this.topic}-${this.partition}`
  }
}

/**
 * A ListOffsets call failed (network, timeout, leadership moved). Distinct from
 * `OffsetOutOfRange`: when it happens while healing an out-of-range fetch, `outOfRange` carries the
 * facts of the fetch that was being healed.
 */
export class ListOffsetsError extends Data.TaggedError("ListOffsetsError")<{
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly reason: TransportReason
  readonly retriable: boolean
  readonly outOfRange?: OffsetOutOfRange
  readonly cause?: unknown
}> {

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
 */
export class FetchError extends Data.TaggedError("FetchError")<{
  readonly partitions: ReadonlyArray<TopicPartition>
  readonly reason: TransportReason
  readonly retriable: boolean
  readonly brokerId?: number
  readonly cause?: unknown
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Fetch failed (${this.reason})${this.brokerId === undefined ? "" : ` at broker ${this.brokerId}`}`
  }
}

/** TOPIC_AUTHORIZATION_FAILED. Never healed, never retried. */
export class TopicAuthorizationFailed extends Data.TaggedError("TopicAuthorizationFailed")<{
  readonly topic: string
  readonly api: ApiName
  readonly cause?: unknown
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Not authorized to access topic ${this.topic} (${this.api})`
  }
}

/** UNKNOWN_TOPIC_OR_PARTITION, or a topic that metadata does not list. */
export class UnknownTopicOrPartition extends Data.TaggedError("UnknownTopicOrPartition")<{
  readonly topic: string
  readonly partition?: number
  readonly api: ApiName
  readonly cause?: unknown
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return this.partition === undefined
      ? `Unknown topic ${this.topic}`
      : `Unknown topic or partition ${this.topic}-${this.partition}`
  }
}

/** Any other error code a broker answered with, kept with its code and name. */
export class BrokerError extends Data.TaggedError("BrokerError")<{
  readonly api: ApiName
  readonly code: number
  readonly name: string
  readonly retriable: boolean
  readonly topic?: string
  readonly partition?: number
  readonly cause?: unknown
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const where = this.topic === undefined ? "" : ` for ${this.topic}${this.partition === undefined ? "" : `-${this.partition}`}`
    return `${this.api} answered ${this.name} (${this.code})${where}`
  }
}

/** A seek or position named a partition that is not assigned to this consumer. */
export class PartitionNotAssigned extends Data.TaggedError("PartitionNotAssigned")<{
  readonly topic: string
  readonly partition: number
  readonly operation: string
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.operation}: partition ${this.topic}-${this.partition} is not assigned to this consumer`
  }
}

/**
 * The broker keeps answering OFFSET_OUT_OF_RANGE for an offset inside the range it lists.
 * Recovery gives up after `attempts` rather than loop.
 */
export class OffsetRecoveryExhausted extends Data.TaggedError("OffsetRecoveryExhausted")<{
  readonly topic: string
  readonly partition: number
  readonly requestedOffset: bigint
  readonly earliest: bigint
  readonly latest: bigint
  readonly attempts: number
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.topic}-${this.partition}: broker still answers out of range at ${this.requestedOffset}, inside log start ${this.earliest}, end ${this.latest}, after ${this.attempts} attempts`
  }
}

/** A configuration value is invalid. Names the field and the value. */
export class InvalidConfig extends Data.TaggedError("InvalidConfig")<{
  readonly field: string
  readonly value: unknown
  readonly reason: string
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid config ${this.field}=${formatValue(this.value)}: ${this.reason}`
  }
}

/**
 * A partition has no committed offset and `autoOffsetReset` is `none`: the consumer does not guess
 * where to start. Seek the partition to give it a position.
 */
export class NoOffsetForPartition extends Data.TaggedError("NoOffsetForPartition")<{
  readonly topic: string
  readonly partition: number
}> {

  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.topic}-${this.partition} has no committed offset and autoOffsetReset is none`
  }
}

/** A broker answer could not be decoded or does not make sense. */
export class CorruptResponse extends Data.TaggedError("CorruptResponse")<{
  readonly api: ApiName
  readonly reason: string
  readonly cause?: unknown
}> {

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
 * An error that a single partition of a Fetch answer can carry. `FetchError` there is the failure of
 * the request to the partition's leader while the other leaders answered.
 */
export type PartitionFetchError =
  | OffsetOutOfRange
  | FetchError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError

/** What `OffsetLister.list` can fail with. */
export type ListOffsetsFailure =
  | ListOffsetsError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | CorruptResponse

/** What `Fetcher.fetch` can fail with as a whole. */
export type FetchFailure = FetchError | CorruptResponse

/** Every error of this module. */
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

/** Whether `u` is one of this module's errors. */
export const isKafkaError = (u: unknown): u is KafkaError => Predicate.hasProperty(u, TypeId)
