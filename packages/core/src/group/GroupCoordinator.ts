/**
 * The group coordinator port: the seven requests of Kafka's consumer-group protocol. Implemented by
 * the kafka package (kafkajs's broker requests) and by the testkit's in-memory coordinator. The
 * membership logic (`GroupMembership`) sits on top: it decides when to call what and what an error
 * means. Member metadata and assignments are opaque bytes here; `MemberProtocol` encodes them.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { TopicPartition } from "../TopicPartition.js"
import type { GroupFailure } from "./GroupError.js"

/**
 * The broker that coordinates a group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Coordinator {
  readonly nodeId: number
  readonly host: string
  readonly port: number
}

/**
 * One assignor a member offers when it joins: its protocol name and its subscription bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinProtocol {
  readonly name: string
  readonly metadata: Uint8Array
}

/**
 * A JoinGroup request to the group coordinator.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinGroupRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  /** "" on the first join. */
  readonly memberId: string
  /** "consumer" for consumers. */
  readonly protocolType: string
  /** In order of preference. */
  readonly protocols: ReadonlyArray<JoinProtocol>
}

/**
 * A member in the JoinGroup answer (the leader gets all of them).
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinedMember {
  readonly memberId: string
  /** The member's metadata for the chosen protocol. */
  readonly metadata: Uint8Array
}

/**
 * The coordinator's answer to JoinGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinGroupResponse {
  readonly generationId: number
  /** The protocol (assignor) the coordinator chose. */
  readonly protocolName: string
  readonly leaderId: string
  readonly memberId: string
  /** Every member with its metadata for the leader; empty for the others. */
  readonly members: ReadonlyArray<JoinedMember>
}

/**
 * One member's encoded assignment, as the leader sends it in SyncGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberAssignmentBytes {
  readonly memberId: string
  readonly assignment: Uint8Array
}

/**
 * A SyncGroup request (the leader's carries every member's assignment).
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncGroupRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly generationId: number
  readonly memberId: string
  /** Filled by the leader only. */
  readonly assignments: ReadonlyArray<MemberAssignmentBytes>
}

/**
 * The coordinator's answer to SyncGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncGroupResponse {
  /** This member's assignment (may be empty: no partitions). */
  readonly assignment: Uint8Array
}

/**
 * A Heartbeat request.
 *
 * @since 0.1.0
 * @category models
 */
export interface HeartbeatRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly generationId: number
  readonly memberId: string
}

/**
 * A LeaveGroup request.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaveGroupRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly memberId: string
}

/**
 * An OffsetFetch request: the group's committed offsets of some partitions.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffsetFetchRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly partitions: ReadonlyArray<TopicPartition>
}

/**
 * A committed offset as OffsetFetch answers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommittedOffset {
  readonly topic: string
  readonly partition: number
  /** The offset of the next record to consume; `undefined` when the group never committed one. */
  readonly offset: bigint | undefined
  readonly metadata: string | null
}

/**
 * One partition's offset in an OffsetCommit request.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffsetToCommit {
  readonly topic: string
  readonly partition: number
  /** The offset of the next record to consume (last processed + 1). */
  readonly offset: bigint
  readonly metadata?: string | null
}

/**
 * An OffsetCommit request.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffsetCommitRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  /** -1 with memberId "" for a commit outside of group membership. */
  readonly generationId: number
  readonly memberId: string
  readonly offsets: ReadonlyArray<OffsetToCommit>
}

/**
 * The port to Kafka's group coordinator: find it, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetFetch, OffsetCommit. `GroupCoordinatorLive` implements it over kafkajs, the testkit in memory.
 *
 * @since 0.1.0
 * @category services
 */
export class GroupCoordinator extends Context.Tag("@kafka-effect/core/GroupCoordinator")<
  GroupCoordinator,
  {
    readonly findCoordinator: (groupId: string) => Effect.Effect<Coordinator, GroupFailure>
    /** May block until the rebalance completes (up to the rebalance timeout). */
    readonly joinGroup: (request: JoinGroupRequest) => Effect.Effect<JoinGroupResponse, GroupFailure>
    /** May block until the leader has sent the assignment. */
    readonly syncGroup: (request: SyncGroupRequest) => Effect.Effect<SyncGroupResponse, GroupFailure>
    readonly heartbeat: (request: HeartbeatRequest) => Effect.Effect<void, GroupFailure>
    readonly leaveGroup: (request: LeaveGroupRequest) => Effect.Effect<void, GroupFailure>
    /** One entry per requested partition, in request order. */
    readonly offsetFetch: (request: OffsetFetchRequest) => Effect.Effect<ReadonlyArray<CommittedOffset>, GroupFailure>
    /** Fails with the first error any partition was answered with. */
    readonly offsetCommit: (request: OffsetCommitRequest) => Effect.Effect<void, GroupFailure>
  }
>() {}

/**
 * How many partitions each topic has: what the group leader needs to assign. Implemented next to
 * the coordinator (Metadata request on a real cluster, the model in the testkit).
 *
 * @since 0.1.0
 * @category services
 */
export class TopicMetadata extends Context.Tag("@kafka-effect/core/TopicMetadata")<
  TopicMetadata,
  {
    /** Topics that do not exist are left out of the answer (they get no partitions). */
    readonly partitionCounts: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, number>, GroupFailure>
  }
>() {}
