/**
 * The consumer-group coordinator of the embedded broker: JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup with generations and rebalances, session and rebalance timeouts on Effect's `Clock`
 * (deterministic under `TestClock`). Offsets live in the broker model (`commitOffsets`), this
 * module only says whether a commit's member and generation are current.
 *
 * Shape after Kafka's GroupCoordinator (and franz-go's kfake groups): states Empty →
 * PreparingRebalance → CompletingRebalance → Stable. Every JoinGroup starts (or joins) a
 * rebalance; it completes when every known member has rejoined or the rebalance timeout passes,
 * and members that did not rejoin are dropped. State changes are synchronous; waiting is on
 * Deferreds, so no lock is needed.
 */
import { Clock, Deferred, Duration, Effect, Exit, FiberId, type Scope } from "effect"
import type * as InMemoryCoordinator from "../InMemoryCoordinator.js"
import { ErrorCode } from "./protocol/ApiKeys.js"

export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable" | "Dead"

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
}

interface Member {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocols: ReadonlyArray<{ readonly name: string; readonly metadata: Uint8Array }>
  lastSeen: number
  assignment: Uint8Array
  join: Deferred.Deferred<JoinResult> | undefined
  sync: Deferred.Deferred<{ readonly errorCode: number; readonly assignment: Uint8Array }> | undefined
}

interface Group {
  readonly groupId: string
  state: GroupState
  generationId: number
  protocolType: string
  protocolName: string
  leaderId: string
  readonly members: Map<string, Member>
  /** When PreparingRebalance: the clock time after which members that did not rejoin are dropped. */
  rebalanceDeadline: number
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
  /** Kafka's group.min.session.timeout.ms / group.max.session.timeout.ms. */
  readonly minSessionTimeoutMs?: number
  readonly maxSessionTimeoutMs?: number
  /** How often session expiry and rebalance deadlines are checked, on the Clock. */
  readonly tickMs?: number
}

const empty = new Uint8Array(0)

export interface CommitOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly metadata: string | null
}

export interface GroupCoordinator {
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

let memberCounter = 0

/**
 * A coordinator whose timers run in a fiber of the current scope; committed offsets go to `store`
 * (the broker model's `commitOffsets`).
 */
export const make = (
  store: (groupId: string, offsets: ReadonlyArray<CommitOffset>) => Effect.Effect<void>,
  options: Options = {},
): Effect.Effect<GroupCoordinator, never, Scope.Scope> =>
  Effect.gen(function* () {
    const minSession = options.minSessionTimeoutMs ?? 100
    const maxSession = options.maxSessionTimeoutMs ?? 1_800_000
    const tickMs = options.tickMs ?? 100
    const groups = new Map<string, Group>()

    const groupOf = (groupId: string): Group => {
      let g = groups.get(groupId)
      if (g === undefined) {
        g = {
          groupId,
          state: "Empty",
          generationId: 0,
          protocolType: "",
          protocolName: "",
          leaderId: "",
          members: new Map(),
          rebalanceDeadline: 0,
        }
        groups.set(groupId, g)
      }
      return g
    }

    const failSyncs = (g: Group, errorCode: number): void => {
      for (const m of g.members.values()) {
        if (m.sync !== undefined) {
          Deferred.unsafeDone(m.sync, Exit.succeed({ errorCode, assignment: empty }))
          m.sync = undefined
        }
      }
    }

    const prepareRebalance = (g: Group, now: number): void => {
      if (g.state === "PreparingRebalance") return
      failSyncs(g, ErrorCode.REBALANCE_IN_PROGRESS)
      g.state = "PreparingRebalance"
      let timeout = 0
      for (const m of g.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs)
      g.rebalanceDeadline = now + timeout
    }

    /** Picks the first protocol of the leader's list that every member supports. */
    const chooseProtocol = (g: Group, leader: Member): string | undefined => {
      for (const p of leader.protocols) {
        let all = true
        for (const m of g.members.values()) if (!m.protocols.some((q) => q.name === p.name)) all = false
        if (all) return p.name
      }
      return undefined
    }

    /** Completes the rebalance when every member has rejoined, or `force` (deadline passed). */
    const maybeCompleteJoin = (g: Group, force: boolean, now: number): void => {
      if (g.state !== "PreparingRebalance") return
      let allJoined = true
      for (const m of g.members.values()) if (m.join === undefined) allJoined = false
      if (!allJoined && !force) return
      for (const [id, m] of g.members) if (m.join === undefined) g.members.delete(id)
      g.generationId += 1
      if (g.members.size === 0) {
        g.state = "Empty"
        g.protocolName = ""
        g.leaderId = ""
        return
      }
      if (!g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value ?? ""
      const leader = g.members.get(g.leaderId)
      const protocol = leader === undefined ? undefined : chooseProtocol(g, leader)
      g.protocolName = protocol ?? ""
      g.state = "CompletingRebalance"
      const everyone = Array.from(g.members.values(), (m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.protocols.find((p) => p.name === protocol)?.metadata ?? empty,
      }))
      for (const m of g.members.values()) {
        const join = m.join
        m.join = undefined
        // The session timer restarts with the new generation (the member was waiting until now).
        m.lastSeen = now
        if (join === undefined) continue
        Deferred.unsafeDone(
          join,
          Exit.succeed({
            errorCode: ErrorCode.NONE,
            generationId: g.generationId,
            protocolName: g.protocolName,
            leader: g.leaderId,
            memberId: m.memberId,
            members: m.memberId === g.leaderId ? everyone : [],
          }),
        )
      }
    }

    const removeMember = (g: Group, memberId: string, now: number): void => {
      const m = g.members.get(memberId)
      if (m === undefined) return
      g.members.delete(memberId)
      if (m.join !== undefined) {
        Deferred.unsafeDone(m.join, Exit.succeed(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId)))
      }
      if (m.sync !== undefined) {
        Deferred.unsafeDone(m.sync, Exit.succeed({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty }))
      }
      if (g.members.size === 0 && g.state !== "PreparingRebalance") {
        g.state = "Empty"
        g.generationId += 1
        g.leaderId = ""
        g.protocolName = ""
        return
      }
      prepareRebalance(g, now)
      maybeCompleteJoin(g, false, now)
    }

    const joinError = (errorCode: number, memberId: string): JoinResult => ({
      errorCode,
      generationId: -1,
      protocolName: "",
      leader: "",
      memberId,
      members: [],
    })

    const join: GroupCoordinator["join"] = (req) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (req.groupId === "") return Effect.succeed(joinError(ErrorCode.INVALID_GROUP_ID, req.memberId))
        if (req.sessionTimeoutMs < minSession || req.sessionTimeoutMs > maxSession) {
          return Effect.succeed(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId))
        }
        const g = groupOf(req.groupId)
        if (req.protocols.length === 0 || (g.members.size > 0 && g.protocolType !== req.protocolType)) {
          return Effect.succeed(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId))
        }
        if (g.members.size > 0) {
          let common = false
          for (const p of req.protocols) {
            let all = true
            for (const m of g.members.values()) {
              if (m.memberId !== req.memberId && !m.protocols.some((q) => q.name === p.name)) all = false
            }
            if (all) common = true
          }
          if (!common) return Effect.succeed(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId))
        }
        let member: Member
        if (req.memberId === "") {
          memberCounter += 1
          member = {
            memberId: `${req.clientId || "member"}-${memberCounter}-${Math.random().toString(16).slice(2, 10)}`,
            groupInstanceId: req.groupInstanceId,
            clientId: req.clientId,
            clientHost: req.clientHost,
            sessionTimeoutMs: req.sessionTimeoutMs,
            rebalanceTimeoutMs: req.rebalanceTimeoutMs,
            protocols: req.protocols,
            lastSeen: now,
            assignment: empty,
            join: undefined,
            sync: undefined,
          }
          g.members.set(member.memberId, member)
        } else {
          const known = g.members.get(req.memberId)
          if (known === undefined) return Effect.succeed(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId))
          member = known
          member.protocols = req.protocols
          member.sessionTimeoutMs = req.sessionTimeoutMs
          member.rebalanceTimeoutMs = req.rebalanceTimeoutMs
          member.lastSeen = now
          if (member.join !== undefined) {
            // A second join from the same member replaces the first.
            Deferred.unsafeDone(member.join, Exit.succeed(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId)))
          }
        }
        g.protocolType = req.protocolType
        const deferred = Deferred.unsafeMake<JoinResult>(FiberId.none)
        member.join = deferred
        prepareRebalance(g, now)
        maybeCompleteJoin(g, false, now)
        return Deferred.await(deferred)
      })

    const sync: GroupCoordinator["sync"] = (req) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const g = groups.get(req.groupId)
        const m = g?.members.get(req.memberId)
        if (g === undefined || m === undefined) {
          return Effect.succeed({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty })
        }
        if (req.generationId !== g.generationId) return Effect.succeed({ errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: empty })
        m.lastSeen = now
        if (g.state === "PreparingRebalance") {
          return Effect.succeed({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty })
        }
        if (g.state === "Stable") return Effect.succeed({ errorCode: ErrorCode.NONE, assignment: m.assignment })
        // CompletingRebalance: the leader's sync carries everyone's assignment.
        const deferred = Deferred.unsafeMake<{ readonly errorCode: number; readonly assignment: Uint8Array }>(FiberId.none)
        if (m.sync !== undefined) {
          Deferred.unsafeDone(m.sync, Exit.succeed({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty }))
        }
        m.sync = deferred
        if (req.memberId === g.leaderId) {
          const byMember = new Map(req.assignments.map((a) => [a.memberId, a.assignment]))
          g.state = "Stable"
          for (const member of g.members.values()) {
            member.assignment = byMember.get(member.memberId) ?? empty
            member.lastSeen = now
            if (member.sync !== undefined) {
              Deferred.unsafeDone(member.sync, Exit.succeed({ errorCode: ErrorCode.NONE, assignment: member.assignment }))
              member.sync = undefined
            }
          }
        }
        return Deferred.await(deferred)
      })

    const heartbeat: GroupCoordinator["heartbeat"] = (groupId, generationId, memberId) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const g = groups.get(groupId)
        const m = g?.members.get(memberId)
        if (g === undefined || m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
        if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION
        m.lastSeen = now
        if (g.state === "PreparingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS
        return ErrorCode.NONE
      })

    const leave: GroupCoordinator["leave"] = (groupId, memberIds) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const g = groups.get(groupId)
        return memberIds.map((id) => {
          if (g === undefined || !g.members.has(id)) return ErrorCode.UNKNOWN_MEMBER_ID
          removeMember(g, id, now)
          return ErrorCode.NONE
        })
      })

    // As Kafka: a commit from outside any generation only into an empty group (offset storage);
    // a member's commit in its generation while Stable or PreparingRebalance (members commit
    // before they rejoin); none while CompletingRebalance.
    const validateCommit: GroupCoordinator["validateCommit"] = (groupId, generationId, memberId) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const g = groups.get(groupId)
        if (generationId < 0 && (g === undefined || g.state === "Empty")) return ErrorCode.NONE
        if (g === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
        if (g.state === "CompletingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS
        const m = g.members.get(memberId)
        if (m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
        if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION
        m.lastSeen = now
        return ErrorCode.NONE
      })

    const describe: GroupCoordinator["describe"] = (groupId) =>
      Effect.sync(() => {
        const g = groups.get(groupId)
        if (g === undefined) return undefined
        return {
          groupId,
          state: g.state,
          protocolType: g.protocolType,
          protocolName: g.protocolName,
          generationId: g.generationId,
          leaderId: g.leaderId,
          members: Array.from(g.members.values(), (m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? empty,
            assignment: m.assignment,
          })),
        }
      })

    const list = Effect.sync(() =>
      Array.from(groups.values(), (g) => ({ groupId: g.groupId, protocolType: g.protocolType })),
    )

    // Session expiry and rebalance deadlines, checked on the Clock.
    const tick = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        for (const g of groups.values()) {
          if (g.state === "PreparingRebalance" && now >= g.rebalanceDeadline) maybeCompleteJoin(g, true, now)
          for (const m of Array.from(g.members.values())) {
            const waiting = m.join !== undefined || m.sync !== undefined
            if (!waiting && now - m.lastSeen > m.sessionTimeoutMs) removeMember(g, m.memberId, now)
          }
        }
      }),
    )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(Duration.millis(tickMs)), tick)))

    const commit: GroupCoordinator["commit"] = (groupId, generationId, memberId, offsets) =>
      Effect.flatMap(validateCommit(groupId, generationId, memberId), (code) =>
        code === ErrorCode.NONE ? Effect.as(store(groupId, offsets), code) : Effect.succeed(code),
      )

    return { join, sync, heartbeat, leave, validateCommit, commit, describe, list }
  })

/**
 * The wire face of the testkit's shared `InMemoryCoordinator`: wire clients and core's in-memory
 * `GroupCoordinator` port then meet in the same groups, and its commit and event logs see wire
 * traffic too. What it does not keep (client host, static member ids, protocol type) is answered
 * with Kafka's defaults.
 */
export const fromInMemory = (
  c: InMemoryCoordinator.InMemoryCoordinator["Type"],
  options: Options = {},
): GroupCoordinator => {
  const minSession = options.minSessionTimeoutMs ?? 100
  const maxSession = options.maxSessionTimeoutMs ?? 1_800_000
  const seen = new Map<string, string>()
  const joinError = (errorCode: number, memberId: string): JoinResult => ({
    errorCode,
    generationId: -1,
    protocolName: "",
    leader: "",
    memberId,
    members: [],
  })
  const validateCommit: GroupCoordinator["validateCommit"] = (groupId, generationId, memberId) =>
    Effect.map(c.describe(groupId), (g) => {
      if (generationId < 0 && g.state === "Empty") return ErrorCode.NONE
      if (g.state === "CompletingRebalance") return ErrorCode.REBALANCE_IN_PROGRESS
      if (!g.members.some((m) => m.memberId === memberId)) return ErrorCode.UNKNOWN_MEMBER_ID
      return generationId === g.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION
    })
  return {
    join: (req) => {
      if (req.sessionTimeoutMs < minSession || req.sessionTimeoutMs > maxSession) {
        return Effect.succeed(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId))
      }
      seen.set(req.groupId, req.protocolType)
      return Effect.map(
        c.joinGroup(req.clientId || "member", {
          groupId: req.groupId,
          sessionTimeoutMs: req.sessionTimeoutMs,
          rebalanceTimeoutMs: req.rebalanceTimeoutMs,
          memberId: req.memberId,
          protocolType: req.protocolType,
          protocols: req.protocols,
        }),
        (a): JoinResult => ({
          errorCode: a.code,
          generationId: a.generationId,
          protocolName: a.protocolName,
          leader: a.leaderId,
          memberId: a.memberId,
          members: a.members.map((m) => ({ memberId: m.memberId, groupInstanceId: null, metadata: m.metadata })),
        }),
      )
    },
    sync: (req) =>
      Effect.map(c.syncGroup(req), (a) => ({ errorCode: a.code, assignment: a.assignment })),
    heartbeat: (groupId, generationId, memberId) => c.heartbeat({ groupId, generationId, memberId }),
    leave: (groupId, memberIds) => Effect.forEach(memberIds, (memberId) => c.leaveGroup({ groupId, memberId })),
    validateCommit,
    commit: (groupId, generationId, memberId, offsets) =>
      Effect.map(
        c.offsetCommit({ groupId, generationId, memberId, offsets }),
        (codes) => codes.find((code) => code !== 0) ?? ErrorCode.NONE,
      ),
    describe: (groupId) =>
      Effect.map(c.describe(groupId), (g): GroupDescription | undefined =>
        g.state === "Empty" && g.generationId === 0 && !seen.has(groupId)
          ? undefined
          : {
              groupId,
              state: g.state,
              protocolType: seen.get(groupId) ?? "consumer",
              protocolName: g.protocolName ?? "",
              generationId: g.generationId,
              leaderId: g.leaderId ?? "",
              members: g.members.map((m) => ({
                memberId: m.memberId,
                groupInstanceId: null,
                clientId: m.clientId,
                clientHost: "/127.0.0.1",
                metadata: empty,
                assignment: m.assignment,
              })),
            },
      ),
    list: Effect.sync(() => Array.from(seen, ([groupId, protocolType]) => ({ groupId, protocolType }))),
  }
}
