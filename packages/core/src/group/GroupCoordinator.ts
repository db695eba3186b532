/**
 * The group coordinator port: the seven requests of Kafka's consumer-group protocol. Implemented by
 * the kafka package (kafkajs's broker requests) and by the testkit's in-memory coordinator. The
 * membership logic (`GroupMembership`) sits on top: it decides when to call what and what an error
 * means. Member metadata and assignments are opaque bytes here; `MemberProtocol` encodes them.
 */
import { Context, type Effect } from "effect"
import type { TopicPartition } from "../TopicPartition.js"
import type { GroupFailure } from "./GroupError.js"

/** The broker that coordinates a group. */
export interface Coordinator {
  readonly nodeId: number
  readonly host: string
  readonly port: number
}

/** One assignor a member offers when it joins: its protocol name and its subscription bytes. */
export interface JoinProtocol {
  readonly name: string
  readonly metadata: Uint8Array
}

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

export interface JoinedMember {
  readonly memberId: string
  /** The member's metadata for the chosen protocol. */
  readonly metadata: Uint8Array
}

export interface JoinGroupResponse {
  readonly generationId: number
  /** The protocol (assignor) the coordinator chose. */
  readonly protocolName: string
  readonly leaderId: string
  readonly memberId: string
  /** Every member with its metadata for the leader; empty for the others. */
  readonly members: ReadonlyArray<JoinedMember>
}

export interface MemberAssignmentBytes {
  readonly memberId: string
  readonly assignment: Uint8Array
}

export interface SyncGroupRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly generationId: number
  readonly memberId: string
  /** Filled by the leader only. */
  readonly assignments: ReadonlyArray<MemberAssignmentBytes>
}

export interface SyncGroupResponse {
  /** This member's assignment (may be empty: no partitions). */
  readonly assignment: Uint8Array
}

export interface HeartbeatRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly generationId: number
  readonly memberId: string
}

export interface LeaveGroupRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly memberId: string
}

export interface OffsetFetchRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  readonly partitions: ReadonlyArray<TopicPartition>
}

export interface CommittedOffset {
  readonly topic: string
  readonly partition: number
  /** The offset of the next record to consume; `undefined` when the group never committed one. */
  readonly offset: bigint | undefined
  readonly metadata: string | null
}

export interface OffsetToCommit {
  readonly topic: string
  readonly partition: number
  /** The offset of the next record to consume (last processed + 1). */
  readonly offset: bigint
  readonly metadata?: string | null
}

export interface OffsetCommitRequest {
  readonly groupId: string
  readonly coordinator: Coordinator
  /** -1 with memberId "" for a commit outside of group membership. */
  readonly generationId: number
  readonly memberId: string
  readonly offsets: ReadonlyArray<OffsetToCommit>
}

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
 */
export class TopicMetadata extends Context.Tag("@kafka-effect/core/TopicMetadata")<
  TopicMetadata,
  {
    /** Topics that do not exist are left out of the answer (they get no partitions). */
    readonly partitionCounts: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, number>, GroupFailure>
  }
>() {}
