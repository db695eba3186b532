/**
 * Where kafkajs's producer errors become the Producer's tagged errors (the request-level reading of
 * a kafkajs error is `errors.ts`'s `classify`, shared with the consumer side).
 */
import { ErrorCode } from "@kafka-effect/core"
import { Data } from "effect"
import * as Errors from "./errors.js"

/** How a send failed. The transport reasons are the consumer side's; the others are broker answers. */
export type ProduceErrorReason =
  | "Network"
  | "Timeout"
  | "NotLeader"
  | "Authentication"
  | "UnknownTopicOrPartition"
  | "TopicAuthorizationFailed"
  | "RecordTooLarge"
  | "NotEnoughReplicas"
  | "Broker"
  | "Unknown"

/**
 * A send failed: no record of it is known to be written (a failure after the broker wrote a batch
 * but before its answer arrived is indistinguishable from one before: the idempotent producer's
 * retries are then deduplicated by the broker, a plain producer's may write twice).
 * `topic`/`partition` are there when every record of the send went to one topic/partition; `code`
 * and `codeName` when a broker answered with a Kafka error code.
 */
export class ProduceError extends Data.TaggedError("ProduceError")<{
  readonly topics: ReadonlyArray<string>
  readonly topic?: string
  readonly partition?: number
  readonly records: number
  readonly reason: ProduceErrorReason
  readonly retriable: boolean
  readonly code?: number
  readonly codeName?: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = this.topic === undefined ? this.topics.join(", ") : `${this.topic}${this.partition === undefined ? "" : `-${this.partition}`}`
    const code = this.codeName === undefined ? "" : ` ${this.codeName} (${this.code})`
    return `Produce of ${this.records} record(s) to ${where} failed (${this.reason})${code}`
  }
}

/** A record that cannot be sent as given (names the record's place, the field and the value). */
export class InvalidRecord extends Data.TaggedError("InvalidRecord")<{
  readonly topic: string
  readonly index: number
  readonly field: string
  readonly value: unknown
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid record ${this.index} for ${this.topic}: ${this.field}: ${this.reason}`
  }
}

/** Thrown from inside kafkajs's partitioner call when the user's partitioner answers a partition that does not exist. */
export class PartitionerAnswer extends Error {
  constructor(
    readonly topic: string,
    readonly index: number,
    readonly answer: unknown,
    readonly partitionCount: number,
  ) {
    super(`partitioner answered ${String(answer)} for ${topic} with ${partitionCount} partitions`)
    this.name = "PartitionerAnswer"
  }
}

const codeReason = (code: number): ProduceErrorReason => {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.INVALID_TOPIC_EXCEPTION:
      return "UnknownTopicOrPartition"
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
      return "TopicAuthorizationFailed"
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return "RecordTooLarge"
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return "NotEnoughReplicas"
    default:
      return Errors.isLeadershipCode(code) ? "NotLeader" : "Broker"
  }
}

export interface SendFacts {
  readonly topics: ReadonlyArray<string>
  readonly partition: number | undefined
  readonly records: number
}

/** A failed `sendBatch` of kafkajs's producer, as a ProduceError (or the InvalidRecord a bad partitioner answer is). */
export const produceError = (error: unknown, facts: SendFacts): ProduceError | InvalidRecord => {
  const cause = Errors.unwrap(error)
  const [only] = facts.topics
  if (cause instanceof PartitionerAnswer) {
    return new InvalidRecord({
      topic: cause.topic,
      index: cause.index,
      field: "partitioner",
      value: cause.answer,
      reason: `must answer an integer in [0, ${cause.partitionCount})`,
    })
  }
  const base = {
    topics: facts.topics,
    records: facts.records,
    cause,
    ...(facts.topics.length === 1 && only !== undefined ? { topic: only } : {}),
    ...(facts.partition === undefined ? {} : { partition: facts.partition }),
  }
  // "Producing to topic without metadata": the topic is not (yet) in the metadata answer.
  if (Errors.isKafkaJSErrorNamed(cause, "KafkaJSMetadataNotLoaded")) {
    return new ProduceError({ ...base, reason: "UnknownTopicOrPartition", retriable: true })
  }
  const c = Errors.classify(cause)
  if (c._tag === "Transport") return new ProduceError({ ...base, reason: c.reason, retriable: c.retriable })
  return new ProduceError({ ...base, reason: codeReason(c.code), retriable: c.retriable, code: c.code, codeName: c.name })
}
