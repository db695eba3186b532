/**
 * The one place where kafkajs errors and Kafka error codes become core's tagged errors.
 */
import { KafkaError, type TopicPartition } from "@kafka-effect/core"
import { type ErrorCodeInfo, errorCodes, isKafkaJSError, type KafkaJSErrorLike } from "./kafkajs.js"

const byCode = new Map<number, ErrorCodeInfo>(errorCodes.map((e) => [e.code, e]))

export const OFFSET_OUT_OF_RANGE = 1
export const UNKNOWN_TOPIC_OR_PARTITION = 3
export const LEADER_NOT_AVAILABLE = 5
export const NOT_LEADER_FOR_PARTITION = 6
export const TOPIC_AUTHORIZATION_FAILED = 29

/**
 * Codes that mean "your metadata is stale or the leader is moving": refresh metadata, route again,
 * retry on the schedule.
 */
const leadershipCodes = new Set([
  UNKNOWN_TOPIC_OR_PARTITION,
  LEADER_NOT_AVAILABLE,
  NOT_LEADER_FOR_PARTITION,
  9, // REPLICA_NOT_AVAILABLE
  13, // NETWORK_EXCEPTION
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
])

export const isLeadershipCode = (code: number): boolean => leadershipCodes.has(code)

export const codeName = (code: number): string => byCode.get(code)?.type ?? `UNKNOWN_CODE_${code}`

export const codeRetriable = (code: number): boolean => byCode.get(code)?.retriable ?? false

/** One partition's error code in a Fetch answer, as the port's per-partition error. */
export const partitionFetchError = (
  code: number,
  topic: string,
  partition: number,
  requestedOffset: bigint,
): KafkaError.PartitionFetchError => {
  switch (code) {
    case OFFSET_OUT_OF_RANGE:
      return new KafkaError.OffsetOutOfRange({ topic, partition, requestedOffset })
    case TOPIC_AUTHORIZATION_FAILED:
      return new KafkaError.TopicAuthorizationFailed({ topic, api: "Fetch" })
    case UNKNOWN_TOPIC_OR_PARTITION:
      return new KafkaError.UnknownTopicOrPartition({ topic, partition, api: "Fetch" })
    default:
      return new KafkaError.BrokerError({
        api: "Fetch",
        code,
        name: codeName(code),
        retriable: codeRetriable(code),
        topic,
        partition,
      })
  }
}

/** One partition's error code in a ListOffsets answer. */
export const listOffsetsCodeError = (
  code: number,
  tp: TopicPartition.TopicPartition,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
): KafkaError.ListOffsetsFailure => {
  switch (code) {
    case TOPIC_AUTHORIZATION_FAILED:
      return new KafkaError.TopicAuthorizationFailed({ topic: tp.topic, api: "ListOffsets" })
    case UNKNOWN_TOPIC_OR_PARTITION:
      return new KafkaError.UnknownTopicOrPartition({ topic: tp.topic, partition: tp.partition, api: "ListOffsets" })
    case LEADER_NOT_AVAILABLE:
    case NOT_LEADER_FOR_PARTITION:
    case 74:
    case 75:
      return new KafkaError.ListOffsetsError({
        partitions,
        reason: "NotLeader",
        retriable: true,
        cause: new KafkaError.BrokerError({
          api: "ListOffsets",
          code,
          name: codeName(code),
          retriable: true,
          topic: tp.topic,
          partition: tp.partition,
        }),
      })
    default:
      return new KafkaError.BrokerError({
        api: "ListOffsets",
        code,
        name: codeName(code),
        retriable: codeRetriable(code),
        topic: tp.topic,
        partition: tp.partition,
      })
  }
}

/** What went wrong with a whole request, read from a kafkajs error (its `.cause` unwrapped). */
export type Classified =
  | { readonly _tag: "Transport"; readonly reason: KafkaError.TransportReason; readonly retriable: boolean }
  | { readonly _tag: "Protocol"; readonly code: number; readonly name: string; readonly retriable: boolean }

/** KafkaJSNumberOfRetriesExceeded and KafkaJSNonRetriableError wrap the error that happened. */
export const unwrap = (error: unknown): unknown => {
  let current = error
  for (let i = 0; i < 8; i++) {
    if (
      isKafkaJSError(current) &&
      (current.name === "KafkaJSNumberOfRetriesExceeded" || current.name === "KafkaJSNonRetriableError") &&
      current.cause !== undefined &&
      current.cause !== current
    ) {
      current = current.cause
    } else {
      return current
    }
  }
  return current
}

const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND"])

export const classify = (error: unknown): Classified => {
  const e = unwrap(error)
  if (isKafkaJSError(e)) {
    switch (e.name) {
      case "KafkaJSConnectionError":
      case "KafkaJSConnectionClosedError":
        return { _tag: "Transport", reason: "Network", retriable: true }
      case "KafkaJSRequestTimeoutError":
      case "KafkaJSLockTimeout":
        return { _tag: "Transport", reason: "Timeout", retriable: true }
      case "KafkaJSSASLAuthenticationError":
        return { _tag: "Transport", reason: "Authentication", retriable: false }
      case "KafkaJSBrokerNotFound":
      case "KafkaJSMetadataNotLoaded":
      case "KafkaJSTopicMetadataNotLoaded":
        return { _tag: "Transport", reason: "NotLeader", retriable: true }
      case "KafkaJSProtocolError":
      case "KafkaJSOffsetOutOfRange": {
        const code = typeof e.code === "number" ? e.code : -1
        if (code === LEADER_NOT_AVAILABLE || code === NOT_LEADER_FOR_PARTITION) {
          return { _tag: "Transport", reason: "NotLeader", retriable: true }
        }
        return { _tag: "Protocol", code, name: e.type ?? codeName(code), retriable: e.retriable ?? false }
      }
      default:
        return { _tag: "Transport", reason: "Unknown", retriable: e.retriable ?? false }
    }
  }
  if (e instanceof Error && "code" in e && typeof e.code === "string" && networkCodes.has(e.code)) {
    return { _tag: "Transport", reason: "Network", retriable: true }
  }
  return { _tag: "Transport", reason: "Unknown", retriable: false }
}

/** A whole Fetch request to one broker failed. */
export const fetchError = (
  error: unknown,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  brokerId: number | undefined,
): KafkaError.FetchError => {
  const c = classify(error)
  const cause = unwrap(error)
  const base = brokerId === undefined ? { partitions, cause } : { partitions, cause, brokerId }
  return c._tag === "Transport"
    ? new KafkaError.FetchError({ ...base, reason: c.reason, retriable: c.retriable })
    : new KafkaError.FetchError({ ...base, reason: "Unknown", retriable: c.retriable })
}

/** A whole ListOffsets request (or the metadata lookup before it) failed. */
export const listOffsetsError = (
  error: unknown,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
): KafkaError.ListOffsetsFailure => {
  const c = classify(error)
  const cause = unwrap(error)
  if (c._tag === "Transport") {
    return new KafkaError.ListOffsetsError({ partitions, reason: c.reason, retriable: c.retriable, cause })
  }
  const first = partitions[0] ?? { topic: "", partition: -1 }
  if (c.code === TOPIC_AUTHORIZATION_FAILED) {
    return new KafkaError.TopicAuthorizationFailed({ topic: first.topic, api: "ListOffsets", cause })
  }
  if (c.code === UNKNOWN_TOPIC_OR_PARTITION) {
    return new KafkaError.UnknownTopicOrPartition({ topic: first.topic, api: "ListOffsets", cause })
  }
  return new KafkaError.BrokerError({ api: "ListOffsets", code: c.code, name: c.name, retriable: c.retriable, cause })
}

/**
 * A topic whose metadata could not be loaded: the error each of its partitions gets in `api`'s
 * answer, or undefined when the failure was not about the topic (network, timeout, …).
 */
export const topicMetadataError = (
  error: unknown,
  topic: string,
  api: KafkaError.ApiName = "Metadata",
  partition?: number,
): KafkaError.TopicAuthorizationFailed | KafkaError.UnknownTopicOrPartition | undefined => {
  const c = classify(error)
  if (c._tag !== "Protocol") return undefined
  const cause = unwrap(error)
  if (c.code === TOPIC_AUTHORIZATION_FAILED) {
    return new KafkaError.TopicAuthorizationFailed({ topic, api, cause })
  }
  if (c.code === UNKNOWN_TOPIC_OR_PARTITION || c.code === 17 /* INVALID_TOPIC_EXCEPTION */) {
    return partition === undefined
      ? new KafkaError.UnknownTopicOrPartition({ topic, api, cause })
      : new KafkaError.UnknownTopicOrPartition({ topic, partition, api, cause })
  }
  return undefined
}

/** A partition that metadata lists without a leader, or not at all: retried after a refresh. */
export const noLeader = (topic: string, partition: number, api: KafkaError.ApiName): KafkaError.UnknownTopicOrPartition =>
  new KafkaError.UnknownTopicOrPartition({ topic, partition, api })

/** A top-level Fetch error code (v7+, fetch sessions) that came without partitions. */
export const fetchSessionError = (
  code: number,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  brokerId: number,
): KafkaError.FetchError =>
  new KafkaError.FetchError({
    partitions,
    reason: "Unknown",
    retriable: codeRetriable(code),
    brokerId,
    cause: new KafkaError.BrokerError({ api: "Fetch", code, name: codeName(code), retriable: codeRetriable(code) }),
  })

/** The answer could not be decoded (truncated fields, a compression codec kafkajs has not registered). */
export const isDecodeFailure = (e: unknown): boolean =>
  e instanceof RangeError ||
  (e instanceof Error && (e.name === "KafkaJSPartialMessageError" || e.name === "KafkaJSNotImplemented"))

export const corruptResponse = (api: KafkaError.ApiName, reason: string, cause?: unknown): KafkaError.CorruptResponse =>
  cause === undefined ? new KafkaError.CorruptResponse({ api, reason }) : new KafkaError.CorruptResponse({ api, reason, cause })

export type { KafkaJSErrorLike }
