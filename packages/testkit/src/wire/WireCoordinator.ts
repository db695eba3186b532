/**
 * The wire face of the testkit's `InMemoryCoordinator`: JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup / OffsetCommit / DescribeGroups / ListGroups of the embedded broker answered by the
 * one coordinator the in-memory ports use too, so wire clients and core's in-memory
 * `GroupCoordinator` port meet in the same groups, and its commit and event logs see wire traffic.
 * What only the wire has is handled here: the session timeout bounds (Kafka's broker settings) and
 * the shapes of the wire answers.
 */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as InMemoryCoordinator from "../InMemoryCoordinator.js"

export type GroupState = InMemoryCoordinator.GroupStateName

export interface JoinResult {
  readonly errorCode: number
  readonly generationId: number
  readonly protocolName: string
  readonly leader: string
  readonly memberId: string
  /** Filled for the leader only. */
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null; readonly metadata: Uint8Array }>
}

export interface JoinRequest {
  readonly groupId: string
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly protocolType: string
  readonly protocols: ReadonlyArray<{ readonly name: string; readonly metadata: Uint8Array }>
  /** The JoinGroup version: from 4 a new member first gets MEMBER_ID_REQUIRED and its id. Default 0. */
  readonly apiVersion?: number
}

export interface GroupDescription {
  readonly groupId: string
  readonly state: GroupState
  readonly protocolType: string
  readonly protocolName: string
  readonly generationId: number
  readonly leaderId: string
  readonly members: ReadonlyArray<{
    readonly memberId: string
    readonly groupInstanceId: string | null
    readonly clientId: string
    readonly clientHost: string
    readonly metadata: Uint8Array
    readonly assignment: Uint8Array
  }>
}

export interface Options {
  /** Kafka's group.min.session.timeout.ms / group.max.session.timeout.ms (defaults as Kafka's: 6 s and 30 min). */
  readonly minSessionTimeoutMs?: number
  readonly maxSessionTimeoutMs?: number
}

export interface CommitOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly metadata: string | null
}

/** The coordinator as the wire's group APIs use it. */
export interface Service {
  readonly join: (request: JoinRequest) => Effect.Effect<JoinResult>
  readonly sync: (request: {
    readonly groupId: string
    readonly generationId: number
    readonly memberId: string
    readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Uint8Array }>
  }) => Effect.Effect<{ readonly errorCode: number; readonly assignment: Uint8Array }>
  readonly heartbeat: (groupId: string, generationId: number, memberId: string) => Effect.Effect<number>
  /** One error code per member. */
  readonly leave: (groupId: string, memberIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<number>>
  /**
   * Whether an OffsetCommit from this member/generation may be stored: 0, or the error code.
   * A negative generation is a commit from outside any group (allowed into an empty group).
   */
  readonly validateCommit: (groupId: string, generationId: number, memberId: string) => Effect.Effect<number>
  /** Checks the member and generation as `validateCommit` does, then stores the offsets; the group's code. */
  readonly commit: (
    groupId: string,
    generationId: number,
    memberId: string,
    offsets: ReadonlyArray<CommitOffset>,
  ) => Effect.Effect<number>
  readonly describe: (groupId: string) => Effect.Effect<GroupDescription | undefined>
  readonly list: Effect.Effect<ReadonlyArray<{ readonly groupId: string; readonly protocolType: string }>>
}

/** The wire coordinator over the `InMemoryCoordinator` `c`. */
export const fromInMemory = (
  c: InMemoryCoordinator.InMemoryCoordinator["Type"],
  options: Options = {},
): Service => {
  const minSession = options.minSessionTimeoutMs ?? 6_000
  const maxSession = options.maxSessionTimeoutMs ?? 1_800_000
  return {
    join: (req) => {
      if (req.sessionTimeoutMs < minSession || req.sessionTimeoutMs > maxSession) {
        return Effect.succeed({
          errorCode: ErrorCode.INVALID_SESSION_TIMEOUT,
          generationId: -1,
          protocolName: "",
          leader: "",
          memberId: req.memberId,
          members: [],
        })
      }
      return Effect.map(
        c.joinGroup(
          req.clientId || "member",
          {
            groupId: req.groupId,
            sessionTimeoutMs: req.sessionTimeoutMs,
            rebalanceTimeoutMs: req.rebalanceTimeoutMs,
            memberId: req.memberId,
            protocolType: req.protocolType,
            protocols: req.protocols,
          },
          { clientHost: req.clientHost, groupInstanceId: req.groupInstanceId, memberIdRequired: (req.apiVersion ?? 0) >= 4 },
        ),
        (a): JoinResult => ({
          errorCode: a.code,
          generationId: a.generationId,
          protocolName: a.protocolName,
          leader: a.leaderId,
          memberId: a.memberId,
          members: a.members,
        }),
      )
    },
    sync: (req) => Effect.map(c.syncGroup(req), (a) => ({ errorCode: a.code, assignment: a.assignment })),
    heartbeat: (groupId, generationId, memberId) => c.heartbeat({ groupId, generationId, memberId }),
    leave: (groupId, memberIds) => Effect.forEach(memberIds, (memberId) => c.leaveGroup({ groupId, memberId })),
    validateCommit: (groupId, generationId, memberId) => c.validateOffsetCommit({ groupId, generationId, memberId }),
    // Nothing to store (every partition refused): the member and generation are still checked, as Kafka does.
    commit: (groupId, generationId, memberId, offsets) =>
      offsets.length === 0
        ? c.validateOffsetCommit({ groupId, generationId, memberId })
        : Effect.map(
            c.offsetCommit({ groupId, generationId, memberId, offsets }),
            (codes) => codes.find((code) => code !== ErrorCode.NONE) ?? ErrorCode.NONE,
          ),
    describe: (groupId) =>
      Effect.map(c.describe(groupId), (g): GroupDescription | undefined =>
        g.known
          ? {
              groupId,
              state: g.state,
              protocolType: g.protocolType ?? "",
              protocolName: g.protocolName ?? "",
              generationId: g.generationId,
              leaderId: g.leaderId ?? "",
              members: g.members,
            }
          : undefined,
      ),
    list: c.list,
  }
}
