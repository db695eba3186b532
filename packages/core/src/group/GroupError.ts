/**
 * Tagged errors of the consumer-group protocol (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetFetch, OffsetCommit). `retriable` says whether the membership logic may try
 * again: some after finding the coordinator again, some after rejoining the group. A class whose
 * answer never varies says so itself (`readonly retriable = true`).
 *
 * @since 0.1.0
 */
import { Data, Predicate } from "effect"
import * as ErrorCode from "../ErrorCode.js"
import {
  type ApiName,
  BrokerError,
  type CorruptResponse,
  type TopicAuthorizationFailed,
  type TransportReason,
  type UnknownTopicOrPartition,
} from "../KafkaError.js"

/**
 * Marks every error of this module; `isGroupError` tests for it.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@kafka-effect/core/GroupError")
/**
 * The type of `TypeId`.
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS: ask again after a backoff.
 *
 * @since 0.1.0
 * @category errors
 */
export class CoordinatorNotAvailable extends Data.TaggedError("CoordinatorNotAvailable")<{
  readonly groupId: string
  readonly api: ApiName
  readonly code: typeof ErrorCode.COORDINATOR_LOAD_IN_PROGRESS | typeof ErrorCode.COORDINATOR_NOT_AVAILABLE
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    const what = this.code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? "is loading" : "not available"
    return `${this.api} for group ${this.groupId}: coordinator ${what}`
  }
}

/**
 * NOT_COORDINATOR: the coordinator moved; find it again.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotCoordinator extends Data.TaggedError("NotCoordinator")<{
  readonly groupId: string
  readonly api: ApiName
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    return `${this.api} for group ${this.groupId}: not the coordinator`
  }
}

/**
 * REBALANCE_IN_PROGRESS: the group is rebalancing; rejoin with the same member id.
 *
 * @since 0.1.0
 * @category errors
 */
export class RebalanceInProgress extends Data.TaggedError("RebalanceInProgress")<{
  readonly groupId: string
  readonly api: ApiName
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    return `${this.api} for group ${this.groupId}: rebalance in progress`
  }
}

/**
 * UNKNOWN_MEMBER_ID: the coordinator forgot this member (session expired); rejoin as a new member.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownMemberId extends Data.TaggedError("UnknownMemberId")<{
  readonly groupId: string
  readonly memberId: string
  readonly api: ApiName
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    return `${this.api} for group ${this.groupId}: unknown member ${this.memberId}`
  }
}

/**
 * ILLEGAL_GENERATION: a newer generation exists; rejoin with the same member id.
 *
 * @since 0.1.0
 * @category errors
 */
export class IllegalGeneration extends Data.TaggedError("IllegalGeneration")<{
  readonly groupId: string
  readonly generationId: number
  readonly api: ApiName
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    return `${this.api} for group ${this.groupId}: generation ${this.generationId} is not the current one`
  }
}

/**
 * MEMBER_ID_REQUIRED (JoinGroup v4+): join again with the member id the coordinator gave.
 *
 * @since 0.1.0
 * @category errors
 */
export class MemberIdRequired extends Data.TaggedError("MemberIdRequired")<{
  readonly groupId: string
  readonly memberId: string
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = true
  override get message(): string {
    return `JoinGroup for group ${this.groupId}: rejoin with member id ${this.memberId}`
  }
}

/**
 * GROUP_AUTHORIZATION_FAILED. Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class GroupAuthorizationFailed extends Data.TaggedError("GroupAuthorizationFailed")<{
  readonly groupId: string
  readonly api: ApiName
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = false
  override get message(): string {
    return `Not authorized to use group ${this.groupId} (${this.api})`
  }
}

/**
 * INCONSISTENT_GROUP_PROTOCOL: the members share no assignor (or protocol type). Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class InconsistentGroupProtocol extends Data.TaggedError("InconsistentGroupProtocol")<{
  readonly groupId: string
  /** The protocols (assignor names) this member offered. */
  readonly protocols: ReadonlyArray<string>
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = false
  override get message(): string {
    return `Group ${this.groupId} shares no assignor with [${this.protocols.join(", ")}]`
  }
}

/**
 * A group request failed below the protocol level (connection closed, timeout).
 *
 * @since 0.1.0
 * @category errors
 */
export class GroupTransportError extends Data.TaggedError("GroupTransportError")<{
  readonly groupId: string
  readonly api: ApiName
  readonly reason: TransportReason
  readonly retriable: boolean
  readonly cause?: unknown
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `${this.api} for group ${this.groupId} failed (${this.reason})`
  }
}

/**
 * The leader was asked to assign with a protocol it has no assignor for. Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedAssignor extends Data.TaggedError("UnsupportedAssignor")<{
  readonly groupId: string
  readonly protocol: string
  readonly available: ReadonlyArray<string>
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = false
  override get message(): string {
    return `Group ${this.groupId} chose assignor ${this.protocol}; this member has [${this.available.join(", ")}]`
  }
}

/**
 * A member's metadata or assignment bytes could not be decoded (another client wrote something
 * this member does not understand). Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class MemberProtocolError extends Data.TaggedError("MemberProtocolError")<{
  readonly what: "MemberMetadata" | "MemberAssignment"
  readonly reason: string
}> {
  /**
   * Marks this value as one of the module's errors (see the module's guard).
   *
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * Whether retrying the same request can help.
   *
   * @since 0.1.0
   */
  readonly retriable = false
  override get message(): string {
    return `Cannot decode ${this.what}: ${this.reason}`
  }
}

/**
 * Every error of this module.
 *
 * @since 0.1.0
 * @category errors
 */
export type GroupError =
  | CoordinatorNotAvailable
  | NotCoordinator
  | RebalanceInProgress
  | UnknownMemberId
  | IllegalGeneration
  | MemberIdRequired
  | GroupAuthorizationFailed
  | InconsistentGroupProtocol
  | GroupTransportError
  | UnsupportedAssignor
  | MemberProtocolError

/**
 * Whether `u` is one of this module's errors.
 *
 * @since 0.1.0
 * @category guards
 */
export const isGroupError = (u: unknown): u is GroupError => Predicate.hasProperty(u, TypeId)

/**
 * Errors after which the coordinator must be found again.
 *
 * @since 0.1.0
 * @category errors
 */
export type CoordinatorError = CoordinatorNotAvailable | NotCoordinator

/**
 * Errors after which the member must rejoin the group.
 *
 * @since 0.1.0
 * @category errors
 */
export type RejoinError = RebalanceInProgress | UnknownMemberId | IllegalGeneration | MemberIdRequired

/**
 * What a group request can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type GroupFailure =
  | CoordinatorError
  | RejoinError
  | GroupAuthorizationFailed
  | InconsistentGroupProtocol
  | GroupTransportError
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | CorruptResponse

/**
 * Whether the error says the coordinator moved or is not there yet (find it again and retry).
 *
 * @since 0.1.0
 * @category guards
 */
export const isCoordinatorError = (e: { readonly _tag: string }): e is CoordinatorError =>
  Predicate.isTagged(e, "CoordinatorNotAvailable") || Predicate.isTagged(e, "NotCoordinator")

/**
 * Whether the error means the member must join the group again.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRejoinError = (e: { readonly _tag: string }): e is RejoinError =>
  Predicate.isTagged(e, "RebalanceInProgress") ||
  Predicate.isTagged(e, "UnknownMemberId") ||
  Predicate.isTagged(e, "IllegalGeneration") ||
  Predicate.isTagged(e, "MemberIdRequired")

/**
 * Maps a Kafka error code of a group API to its tagged error (`undefined` for NONE; codes that are
 * not about the group become a non-retriable `BrokerError`; map topic-level codes before). Used by
 * every implementation of the port, so that a code means the same thing whichever broker answered.
 *
 * @since 0.1.0
 * @category mapping
 */
export const fromCode = (
  code: number,
  facts: {
    readonly groupId: string
    readonly api: ApiName
    readonly memberId?: string
    readonly generationId?: number
    readonly protocols?: ReadonlyArray<string>
    readonly cause?: unknown
  },
): GroupFailure | undefined => {
  const { groupId, api, cause } = facts
  const withCause = cause === undefined ? {} : { cause }
  switch (code) {
    case ErrorCode.NONE:
      return undefined
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
      return new CoordinatorNotAvailable({ groupId, api, code, ...withCause })
    case ErrorCode.NOT_COORDINATOR:
      return new NotCoordinator({ groupId, api, ...withCause })
    case ErrorCode.ILLEGAL_GENERATION:
      return new IllegalGeneration({ groupId, api, generationId: facts.generationId ?? -1, ...withCause })
    case ErrorCode.INCONSISTENT_GROUP_PROTOCOL:
      return new InconsistentGroupProtocol({ groupId, protocols: facts.protocols ?? [], ...withCause })
    case ErrorCode.UNKNOWN_MEMBER_ID:
      return new UnknownMemberId({ groupId, api, memberId: facts.memberId ?? "", ...withCause })
    case ErrorCode.REBALANCE_IN_PROGRESS:
      return new RebalanceInProgress({ groupId, api, ...withCause })
    case ErrorCode.GROUP_AUTHORIZATION_FAILED:
      return new GroupAuthorizationFailed({ groupId, api, ...withCause })
    case ErrorCode.MEMBER_ID_REQUIRED:
      return new MemberIdRequired({ groupId, memberId: facts.memberId ?? "", ...withCause })
    default:
      return new BrokerError({ api, code, name: ErrorCode.name(code), retriable: false, ...withCause })
  }
}
