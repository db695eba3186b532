/**
 * The one place where kafkajs errors and Kafka error codes become core's tagged errors: the
 * consumer's Fetch and ListOffsets, metadata, and the group coordinator's requests (the producer's
 * reading of the same `classify` is `produceErrors.ts`).
 */
import { ErrorCode, GroupError, KafkaError, type TopicPartition } from "@kafka-effect/core"
import { Data, Predicate } from "effect"
import { isKafkaJSError, type KafkaJSErrorLike } from "./kafkajs.js"

/** Metadata could not be loaded (no broker reachable, timeout). */
export class MetadataError extends Data.TaggedError("MetadataError")<{
  readonly topics: ReadonlyArray<string>
  readonly reason: KafkaError.TransportReason
  readonly retriable: boolean
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Metadata request failed (${this.reason}) for ${this.topics.join(", ")}`
  }
}

/**
 * Codes that mean "your metadata is stale or the leader is moving": refresh metadata, route again,
 * retry on the schedule.
 */
const leadershipCodes: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
])

export const isLeadershipCode = (code: number): boolean => leadershipCodes.has(code)

/** A kafkajs error of this class name (kafkajs's error classes are told apart by `name`). */
export const isKafkaJSErrorNamed = (u: unknown, name: string): u is KafkaJSErrorLike => isKafkaJSError(u) && u.name === name

/** One partition's error code in a Fetch answer, as the port's per-partition error. */
export const partitionFetchError = (
  code: number,
  topic: string,
  partition: number,
  requestedOffset: bigint,
): KafkaError.PartitionFetchError => {
  switch (code) {
    case ErrorCode.OFFSET_OUT_OF_RANGE:
      return new KafkaError.OffsetOutOfRange({ topic, partition, requestedOffset })
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
      return new KafkaError.TopicAuthorizationFailed({ topic, api: "Fetch" })
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return new KafkaError.UnknownTopicOrPartition({ topic, partition, api: "Fetch" })
    default:
      return new KafkaError.BrokerError({
        api: "Fetch",
        code,
        name: ErrorCode.name(code),
        retriable: ErrorCode.isRetriable(code),
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
    case ErrorCode.TOPIC_AUTHORIZATION_FAILED:
      return new KafkaError.TopicAuthorizationFailed({ topic: tp.topic, api: "ListOffsets" })
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
      return new KafkaError.UnknownTopicOrPartition({ topic: tp.topic, partition: tp.partition, api: "ListOffsets" })
    case ErrorCode.LEADER_NOT_AVAILABLE:
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.FENCED_LEADER_EPOCH:
    case ErrorCode.UNKNOWN_LEADER_EPOCH:
      return new KafkaError.ListOffsetsError({
        partitions,
        reason: "NotLeader",
        retriable: true,
        cause: new KafkaError.BrokerError({
          api: "ListOffsets",
          code,
          name: ErrorCode.name(code),
          retriable: true,
          topic: tp.topic,
          partition: tp.partition,
        }),
      })
    default:
      return new KafkaError.BrokerError({
        api: "ListOffsets",
        code,
        name: ErrorCode.name(code),
        retriable: ErrorCode.isRetriable(code),
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
        const code = typeof e.code === "number" ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR
        if (code === ErrorCode.LEADER_NOT_AVAILABLE || code === ErrorCode.NOT_LEADER_OR_FOLLOWER) {
          return { _tag: "Transport", reason: "NotLeader", retriable: true }
        }
        return { _tag: "Protocol", code, name: ErrorCode.name(code), retriable: e.retriable ?? false }
      }
      default:
        return { _tag: "Transport", reason: "Unknown", retriable: e.retriable ?? false }
    }
  }
  if (Predicate.hasProperty(e, "code") && typeof e.code === "string" && networkCodes.has(e.code)) {
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
  if (c.code === ErrorCode.TOPIC_AUTHORIZATION_FAILED) {
    return new KafkaError.TopicAuthorizationFailed({ topic: first.topic, api: "ListOffsets", cause })
  }
  if (c.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
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
  if (c.code === ErrorCode.TOPIC_AUTHORIZATION_FAILED) {
    return new KafkaError.TopicAuthorizationFailed({ topic, api, cause })
  }
  if (c.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || c.code === ErrorCode.INVALID_TOPIC_EXCEPTION) {
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
    retriable: ErrorCode.isRetriable(code),
    brokerId,
    cause: new KafkaError.BrokerError({ api: "Fetch", code, name: ErrorCode.name(code), retriable: ErrorCode.isRetriable(code) }),
  })

/** The answer could not be decoded (truncated fields, a compression codec kafkajs has not registered). */
export const isDecodeFailure = (e: unknown): boolean =>
  e instanceof RangeError ||
  (e instanceof Error && (e.name === "KafkaJSPartialMessageError" || e.name === "KafkaJSNotImplemented"))

export const corruptResponse = (api: KafkaError.ApiName, reason: string, cause?: unknown): KafkaError.CorruptResponse =>
  cause === undefined ? new KafkaError.CorruptResponse({ api, reason }) : new KafkaError.CorruptResponse({ api, reason, cause })

/** A whole Fetch request to one broker failed: a decode failure is a `CorruptResponse`, the rest a `FetchError`. */
export const fetchRequestFailure = (
  error: unknown,
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  brokerId: number,
): KafkaError.FetchError | KafkaError.CorruptResponse => {
  if (KafkaError.isKafkaError(error) && (error._tag === "FetchError" || error._tag === "CorruptResponse")) return error
  if (isDecodeFailure(error)) return corruptResponse("Fetch", String(error), error)
  return fetchError(error, partitions, brokerId)
}

/** Metadata for `topics` could not be loaded (the request failed as a whole). */
export const metadataError = (error: unknown, topics: ReadonlyArray<string>): MetadataError => {
  const c = classify(error)
  return new MetadataError({
    topics,
    reason: c._tag === "Transport" ? c.reason : "Unknown",
    retriable: c.retriable,
    cause: unwrap(error),
  })
}

/** What a group request was about, for its error. */
export interface GroupFacts {
  readonly groupId: string
  readonly api: KafkaError.ApiName
  readonly memberId?: string
  readonly generationId?: number
  readonly protocols?: ReadonlyArray<string>
}

/** A kafkajs failure of a group request as core's tagged error. */
export const groupFailure = (error: unknown, facts: GroupFacts): GroupError.GroupFailure => {
  const cause = unwrap(error)
  // kafkajs gives MEMBER_ID_REQUIRED an error class of its own (not named KafkaJSProtocolError), with
  // the member id the coordinator assigned: rejoin with it.
  if (isMemberIdRequired(cause)) {
    return new GroupError.MemberIdRequired({ groupId: facts.groupId, memberId: cause.memberId, cause })
  }
  // kafkajs's cluster-level coordinator lookup throws this (non-retriable) when no broker names a
  // coordinator yet: the coordinator is not available yet.
  if (isKafkaJSErrorNamed(cause, "KafkaJSGroupCoordinatorNotFound")) {
    return new GroupError.CoordinatorNotAvailable({ groupId: facts.groupId, api: facts.api, code: ErrorCode.COORDINATOR_NOT_AVAILABLE, cause })
  }
  const c = classify(error)
  if (c._tag === "Transport") {
    return new GroupError.GroupTransportError({ groupId: facts.groupId, api: facts.api, reason: c.reason, retriable: c.retriable, cause })
  }
  return (
    GroupError.fromCode(c.code, { ...facts, cause }) ??
    new GroupError.GroupTransportError({ groupId: facts.groupId, api: facts.api, reason: "Unknown", retriable: false, cause })
  )
}

// KafkaJSMemberIdRequired carries the member id the coordinator gave. kafkajs's broker.joinGroup
// answers the first one itself by joining again with that id; a second one reaches us here.
const isMemberIdRequired = (u: unknown): u is KafkaJSErrorLike & { readonly memberId: string } =>
  isKafkaJSErrorNamed(u, "KafkaJSMemberIdRequired") && Predicate.hasProperty(u, "memberId") && typeof u.memberId === "string"
