/**
 * An in-memory group coordinator over the `BrokerModel`: Kafka's group state machine (Empty,
 * PreparingRebalance, CompletingRebalance, Stable) with session and rebalance timeouts on Effect's
 * Clock, so it is deterministic under `TestClock`. It implements core's `GroupCoordinator` and
 * `TopicMetadata` ports; committed offsets live in the model (so any face of the model reads them),
 * and requests go through the model's `serve`, so `TestBroker.failNext("Heartbeat", …)`, latencies
 * and the request log apply to group requests too.
 *
 * The answering functions speak Kafka error codes (`GroupAnswer`), so a wire front end can serve
 * them as they are; the port maps the codes with core's `GroupError.fromCode`.
 *
 * Each consumer in a test can get its own client (`client(name)`), which a test can `disconnect`:
 * from then on all its requests fail with a network error, as for a process that died.
 *
 * The embedded wire broker serves its groups from this coordinator too (`wire/GroupCoordinator`
 * adapts it), so wire clients and in-memory consumers meet in the same groups.
 *
 * @since 0.1.0
 */
import {
  ErrorCode,
  GroupCoordinator as GroupCoordinatorModule,
  GroupError,
  type KafkaError,
  TopicPartition,
} from "@kafka-effect/core"
import { Clock, Context, Deferred, Duration, Effect, Fiber, Layer, Scope } from "effect"
import * as BrokerModel from "./BrokerModel.js"

type Port = GroupCoordinatorModule.GroupCoordinator["Type"]
type JoinProtocol = GroupCoordinatorModule.JoinProtocol

/**
 * A group's state as Kafka names it.
 *
 * @since 0.1.0
 * @category models
 */
export type GroupStateName = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable"

/**
 * The in-memory coordinator's answer to JoinGroup.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinAnswer {
  readonly code: number
  readonly generationId: number
  readonly protocolName: string
  readonly leaderId: string
  readonly memberId: string
  /** Filled for the leader only. */
  readonly members: ReadonlyArray<JoinedMember>
}

/**
 * A joined member, with its static instance id.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinedMember extends GroupCoordinatorModule.JoinedMember {
  readonly groupInstanceId: string | null
}

/**
 * Where a join comes from, when a front end knows it (the wire: the client's address).
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinOrigin {
  /** As Kafka's DescribeGroups shows it, e.g. "/127.0.0.1". */
  readonly clientHost: string
  readonly groupInstanceId: string | null
  /**
   * JoinGroup v4+ (KIP-394): a new member without a group instance id first gets
   * MEMBER_ID_REQUIRED with the id it is to join with, and joins with that id in a second request.
   */
  readonly memberIdRequired?: boolean
}

/**
 * The in-memory coordinator's answer to SyncGroup: an error code and this member's assignment.
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncAnswer {
  readonly code: number
  readonly assignment: Uint8Array
}

/**
 * A member as DescribeGroups shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberDescription {
  readonly memberId: string
  readonly clientId: string
  readonly clientHost: string
  readonly groupInstanceId: string | null
  readonly protocols: ReadonlyArray<string>
  /** The member's metadata for the group's protocol (empty while there is none). */
  readonly metadata: Uint8Array
  readonly assignment: Uint8Array
}

/**
 * A group as DescribeGroups shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupDescription {
  readonly groupId: string
  readonly state: GroupStateName
  /** Whether any member ever asked to join the group; an unknown group is described Empty. */
  readonly known: boolean
  readonly generationId: number
  /** The protocol type of the members ("consumer"); kept when the group empties, as Kafka does. */
  readonly protocolType: string | undefined
  readonly protocolName: string | undefined
  readonly leaderId: string | undefined
  readonly members: ReadonlyArray<MemberDescription>
}

/**
 * One accepted OffsetCommit partition, in the order the coordinator accepted them.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommitLogEntry {
  readonly at: number
  readonly groupId: string
  readonly memberId: string
  readonly generationId: number
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

/**
 * A group membership change the coordinator made, for tests to read.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupEvent {
  readonly at: number
  readonly groupId: string
  readonly event: "Joined" | "Left" | "SessionExpired" | "RebalanceStarted" | "GenerationCompleted" | "RemovedAtRebalanceTimeout"
  readonly memberId?: string
  readonly generationId: number
}

/**
 * Options of the in-memory coordinator: the delay of a group's first rebalance.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /**
   * Kafka's `group.initial.rebalance.delay.ms`: how long an empty group waits for more members
   * before completing its first rebalance. Default 0.
   */
  readonly initialRebalanceDelay?: Duration.DurationInput
}

/**
 * The in-memory group coordinator's tag: Kafka's classic group protocol on the Effect clock.
 *
 * @since 0.1.0
 * @category services
 */
export class InMemoryCoordinator extends Context.Tag("@kafka-effect/testkit/InMemoryCoordinator")<
  InMemoryCoordinator,
  {
    /** The request answerers, with Kafka error codes (for a wire front end). */
    readonly joinGroup: (
      clientId: string,
      request: Omit<GroupCoordinatorModule.JoinGroupRequest, "coordinator">,
      origin?: JoinOrigin,
    ) => Effect.Effect<JoinAnswer>
    readonly syncGroup: (request: Omit<GroupCoordinatorModule.SyncGroupRequest, "coordinator">) => Effect.Effect<SyncAnswer>
    readonly heartbeat: (request: Omit<GroupCoordinatorModule.HeartbeatRequest, "coordinator">) => Effect.Effect<number>
    readonly leaveGroup: (request: Omit<GroupCoordinatorModule.LeaveGroupRequest, "coordinator">) => Effect.Effect<number>
    /** Codes per partition, in request order. */
    readonly offsetCommit: (request: Omit<GroupCoordinatorModule.OffsetCommitRequest, "coordinator">) => Effect.Effect<ReadonlyArray<number>>
    /**
     * Whether an OffsetCommit from this member and generation may be stored: 0 or the group's error
     * code (what `offsetCommit` checks first). An accepted member's session restarts, as on a commit.
     */
    readonly validateOffsetCommit: (request: {
      readonly groupId: string
      readonly generationId: number
      readonly memberId: string
    }) => Effect.Effect<number>

    /** A `GroupCoordinator` port for one client; `disconnect(name)` cuts it off. */
    readonly client: (name: string) => Port
    /** Every request of this client fails with a network error from now on (a crashed process). */
    readonly disconnect: (name: string) => Effect.Effect<void>
    readonly describe: (groupId: string) => Effect.Effect<GroupDescription>
    /** The groups any member asked to join (ListGroups), with their protocol type ("" before any was admitted). */
    readonly list: Effect.Effect<ReadonlyArray<{ readonly groupId: string; readonly protocolType: string }>>
    readonly commitLog: (groupId: string) => Effect.Effect<ReadonlyArray<CommitLogEntry>>
    readonly events: (groupId: string) => Effect.Effect<ReadonlyArray<GroupEvent>>
  }
>() {}

interface Member {
  readonly memberId: string
  readonly clientId: string
  readonly clientHost: string
  readonly groupInstanceId: string | null
  protocolType: string
  protocols: ReadonlyArray<JoinProtocol>
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  awaitingJoin: Deferred.Deferred<JoinAnswer> | undefined
  awaitingSync: Deferred.Deferred<SyncAnswer> | undefined
  assignment: Uint8Array
  sessionTimer: Fiber.RuntimeFiber<void> | undefined
}

interface Group {
  readonly groupId: string
  state: GroupStateName
  generationId: number
  protocolType: string | undefined
  protocolName: string | undefined
  leaderId: string | undefined
  readonly members: Map<string, Member>
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined with. */
  readonly pendingMembers: Set<string>
  rebalanceTimer: Fiber.RuntimeFiber<void> | undefined
}

const empty = new Uint8Array(0)

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((x, i) => x === b[i])

const sameProtocols = (a: ReadonlyArray<JoinProtocol>, b: ReadonlyArray<JoinProtocol>): boolean =>
  a.length === b.length && a.every((p, i) => p.name === b[i].name && sameBytes(p.metadata, b[i].metadata))

const joinError = (code: number, memberId: string): JoinAnswer => ({
  code,
  generationId: -1,
  protocolName: "",
  leaderId: "",
  memberId,
  members: [],
})

/**
 * The coordinator over the model in context; its timers live in the layer's scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {},
): Effect.Effect<InMemoryCoordinator["Type"], never, BrokerModel.BrokerModel | Scope.Scope> =>
  Effect.gen(function* () {
    const model = yield* BrokerModel.BrokerModel
    const scope = yield* Scope.Scope
    const initialDelayMs = Duration.toMillis(Duration.decode(options.initialRebalanceDelay ?? 0))
    const groups = new Map<string, Group>()
    const commitLog: Array<CommitLogEntry> = []
    const eventLog: Array<GroupEvent> = []
    const disconnected = new Set<string>()
    let memberSeq = 0

    // Timers run as fibers in the layer's scope. A timer that fires clears its own slot first, so
    // that the work it does never interrupts the fiber doing it.
    // Interruptible even when the request that starts them runs in a finalizer (a LeaveGroup on
    // close), or the layer's scope could not stop them.
    const startTimer = (ms: number, fire: () => Effect.Effect<void>) =>
      Effect.forkIn(Effect.interruptible(Effect.zipRight(Effect.sleep(Duration.millis(ms)), Effect.suspend(fire))), scope)
    const cancel = (fiber: Fiber.RuntimeFiber<void> | undefined) =>
      fiber === undefined ? Effect.void : Fiber.interruptFork(fiber)

    const record = (g: Group, event: GroupEvent["event"], memberId?: string) =>
      Effect.map(Clock.currentTimeMillis, (at) => {
        eventLog.push({ at, groupId: g.groupId, event, generationId: g.generationId, ...(memberId === undefined ? {} : { memberId }) })
      })

    const groupOf = (groupId: string): Group => {
      let g = groups.get(groupId)
      if (g === undefined) {
        g = {
          groupId,
          state: "Empty",
          generationId: 0,
          protocolType: undefined,
          protocolName: undefined,
          leaderId: undefined,
          members: new Map(),
          pendingMembers: new Set(),
          rebalanceTimer: undefined,
        }
        groups.set(groupId, g)
      }
      return g
    }

    /** Protocols every member offers, in the order the first member prefers them. */
    const candidates = (members: Iterable<Member>): Array<string> => {
      let out: Array<string> | undefined
      for (const m of members) {
        const names = m.protocols.map((p) => p.name)
        out = out === undefined ? names : out.filter((n) => names.includes(n))
      }
      return out ?? []
    }

    /** Each member votes for its most preferred candidate; most votes wins, ties go to the earlier candidate. */
    const selectProtocol = (g: Group): string => {
      const names = candidates(g.members.values())
      const votes = new Map(names.map((n) => [n, 0]))
      for (const m of g.members.values()) {
        const choice = m.protocols.find((p) => votes.has(p.name))
        if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
      }
      let best = names[0] ?? ""
      for (const n of names) if ((votes.get(n) ?? 0) > (votes.get(best) ?? 0)) best = n
      return best
    }

    const keepAliveOrExpire = (g: Group, m: Member): Effect.Effect<void> =>
      Effect.suspend(() => {
        m.sessionTimer = undefined
        if (g.members.get(m.memberId) !== m) return Effect.void
        // Kafka keeps members that wait in JoinGroup or SyncGroup alive.
        if (m.awaitingJoin !== undefined || m.awaitingSync !== undefined) return resetSession(g, m)
        return Effect.zipRight(record(g, "SessionExpired", m.memberId), removeMember(g, m))
      })

    const resetSession = (g: Group, m: Member): Effect.Effect<void> =>
      Effect.gen(function* () {
        yield* cancel(m.sessionTimer)
        m.sessionTimer = yield* startTimer(m.sessionTimeoutMs, () => keepAliveOrExpire(g, m))
      })

    const failSyncs = (g: Group, code: number) =>
      Effect.forEach(g.members.values(), (m) => {
        const d = m.awaitingSync
        m.awaitingSync = undefined
        return d === undefined ? Effect.void : Deferred.succeed(d, { code, assignment: empty })
      }, { discard: true })

    const prepareRebalance = (g: Group): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (g.state === "CompletingRebalance") yield* failSyncs(g, ErrorCode.REBALANCE_IN_PROGRESS)
        const wasEmpty = g.state === "Empty"
        g.state = "PreparingRebalance"
        yield* record(g, "RebalanceStarted")
        let timeoutMs = 0
        for (const m of g.members.values()) timeoutMs = Math.max(timeoutMs, m.rebalanceTimeoutMs)
        if (wasEmpty && initialDelayMs > 0) timeoutMs = initialDelayMs
        yield* cancel(g.rebalanceTimer)
        g.rebalanceTimer = yield* startTimer(timeoutMs, () =>
          Effect.suspend(() => {
            g.rebalanceTimer = undefined
            return g.state === "PreparingRebalance" ? completeJoin(g) : Effect.void
          }),
        )
      })

    const maybeCompleteJoin = (g: Group): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (g.state !== "PreparingRebalance") return Effect.void
        if (g.members.size > 0 && g.generationId === 0 && initialDelayMs > 0 && g.rebalanceTimer !== undefined) return Effect.void
        for (const m of g.members.values()) if (m.awaitingJoin === undefined) return Effect.void
        return completeJoin(g)
      })

    const completeJoin = (g: Group): Effect.Effect<void> =>
      Effect.gen(function* () {
        const timer = g.rebalanceTimer
        g.rebalanceTimer = undefined
        yield* cancel(timer)
        for (const m of [...g.members.values()]) {
          if (m.awaitingJoin === undefined) {
            g.members.delete(m.memberId)
            yield* cancel(m.sessionTimer)
            yield* record(g, "RemovedAtRebalanceTimeout", m.memberId)
          }
        }
        g.generationId++
        if (g.members.size === 0) {
          g.state = "Empty"
          g.protocolName = undefined
          g.leaderId = undefined
          yield* record(g, "GenerationCompleted")
          return
        }
        g.protocolName = selectProtocol(g)
        if (g.leaderId === undefined || !g.members.has(g.leaderId)) g.leaderId = g.members.keys().next().value
        g.state = "CompletingRebalance"
        yield* record(g, "GenerationCompleted")
        const protocolName = g.protocolName
        const all = joinedMembers(g)
        for (const m of g.members.values()) {
          const d = m.awaitingJoin
          m.awaitingJoin = undefined
          m.assignment = empty
          yield* resetSession(g, m)
          if (d !== undefined) {
            yield* Deferred.succeed(d, {
              code: ErrorCode.NONE,
              generationId: g.generationId,
              protocolName,
              leaderId: g.leaderId ?? "",
              memberId: m.memberId,
              members: m.memberId === g.leaderId ? all : [],
            })
          }
        }
      })

    /** The members with their metadata for the group's protocol: what the leader's JoinGroup answer lists. */
    const joinedMembers = (g: Group): Array<JoinedMember> =>
      [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? empty,
      }))

    const removeMember = (g: Group, m: Member): Effect.Effect<void> =>
      Effect.gen(function* () {
        g.members.delete(m.memberId)
        yield* cancel(m.sessionTimer)
        m.sessionTimer = undefined
        if (m.awaitingJoin) yield* Deferred.succeed(m.awaitingJoin, joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.memberId))
        if (m.awaitingSync) yield* Deferred.succeed(m.awaitingSync, { code: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty })
        m.awaitingJoin = undefined
        m.awaitingSync = undefined
        if (g.state === "Stable" || g.state === "CompletingRebalance") yield* prepareRebalance(g)
        yield* maybeCompleteJoin(g)
      })

    const joinGroup: InMemoryCoordinator["Type"]["joinGroup"] = (clientId, request, origin) =>
      Effect.gen(function* () {
        if (request.groupId === "") return joinError(ErrorCode.INVALID_GROUP_ID, request.memberId)
        const g = groupOf(request.groupId)
        const names = request.protocols.map((p) => p.name)
        const others = [...g.members.values()].filter((m) => m.memberId !== request.memberId)
        const common = others.length === 0 ? names : candidates(others).filter((n) => names.includes(n))
        if (names.length === 0 || common.length === 0 || (g.protocolType !== undefined && others.length > 0 && g.protocolType !== request.protocolType)) {
          return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.memberId)
        }
        let m: Member | undefined
        const isNew = request.memberId === "" || g.pendingMembers.has(request.memberId)
        if (isNew) {
          const memberId = request.memberId === "" ? `${clientId}-${++memberSeq}` : request.memberId
          if (request.memberId === "" && origin?.memberIdRequired === true && origin.groupInstanceId === null) {
            g.pendingMembers.add(memberId)
            return joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId)
          }
          g.pendingMembers.delete(memberId)
          m = {
            memberId,
            clientId,
            clientHost: origin?.clientHost ?? "/127.0.0.1",
            groupInstanceId: origin?.groupInstanceId ?? null,
            protocolType: request.protocolType,
            protocols: request.protocols,
            sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: request.rebalanceTimeoutMs,
            awaitingJoin: undefined,
            awaitingSync: undefined,
            assignment: empty,
            sessionTimer: undefined,
          }
          g.members.set(memberId, m)
          yield* record(g, "Joined", memberId)
        } else {
          m = g.members.get(request.memberId)
          if (m === undefined) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, request.memberId)
          // As Kafka: a member that joins again with the same protocols while the group completes a
          // rebalance (it lost its JoinGroup answer), or a follower while it is stable, gets the
          // current generation back without a rebalance; the leader's rejoin or changed metadata rebalances.
          const unchanged = sameProtocols(m.protocols, request.protocols) && m.protocolType === request.protocolType
          if (unchanged && (g.state === "CompletingRebalance" || (g.state === "Stable" && g.leaderId !== m.memberId))) {
            yield* resetSession(g, m)
            return {
              code: ErrorCode.NONE,
              generationId: g.generationId,
              protocolName: g.protocolName ?? "",
              leaderId: g.leaderId ?? "",
              memberId: m.memberId,
              members: g.state === "CompletingRebalance" && m.memberId === g.leaderId ? joinedMembers(g) : [],
            }
          }
          m.protocols = request.protocols
          m.protocolType = request.protocolType
          m.sessionTimeoutMs = request.sessionTimeoutMs
          m.rebalanceTimeoutMs = request.rebalanceTimeoutMs
        }
        g.protocolType = request.protocolType
        const answer = yield* Deferred.make<JoinAnswer>()
        if (m.awaitingJoin) yield* Deferred.succeed(m.awaitingJoin, joinError(ErrorCode.UNKNOWN_MEMBER_ID, m.memberId))
        m.awaitingJoin = answer
        yield* resetSession(g, m)
        if (g.state !== "PreparingRebalance") yield* prepareRebalance(g)
        yield* maybeCompleteJoin(g)
        return yield* Deferred.await(answer)
      })

    const syncGroup: InMemoryCoordinator["Type"]["syncGroup"] = (request) =>
      Effect.gen(function* () {
        const g = groups.get(request.groupId)
        const m = g?.members.get(request.memberId)
        if (g === undefined || m === undefined) return { code: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty }
        if (request.generationId !== g.generationId) return { code: ErrorCode.ILLEGAL_GENERATION, assignment: empty }
        yield* resetSession(g, m)
        switch (g.state) {
          case "Empty":
            return { code: ErrorCode.UNKNOWN_MEMBER_ID, assignment: empty }
          case "PreparingRebalance":
            return { code: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty }
          case "Stable":
            return { code: ErrorCode.NONE, assignment: m.assignment }
          case "CompletingRebalance": {
            const answer = yield* Deferred.make<SyncAnswer>()
            // A second SyncGroup from the same member replaces the first.
            if (m.awaitingSync) yield* Deferred.succeed(m.awaitingSync, { code: ErrorCode.REBALANCE_IN_PROGRESS, assignment: empty })
            m.awaitingSync = answer
            if (m.memberId === g.leaderId) {
              const byMember = new Map(request.assignments.map((a) => [a.memberId, a.assignment]))
              g.state = "Stable"
              for (const member of g.members.values()) {
                member.assignment = byMember.get(member.memberId) ?? empty
                const d = member.awaitingSync
                member.awaitingSync = undefined
                // Every session restarts with the assignment (a follower may have waited long for it).
                yield* resetSession(g, member)
                if (d !== undefined) yield* Deferred.succeed(d, { code: ErrorCode.NONE, assignment: member.assignment })
              }
            }
            return yield* Deferred.await(answer)
          }
        }
      })

    const heartbeat: InMemoryCoordinator["Type"]["heartbeat"] = (request) =>
      Effect.gen(function* () {
        const g = groups.get(request.groupId)
        const m = g?.members.get(request.memberId)
        if (g === undefined || m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
        if (request.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION
        yield* resetSession(g, m)
        return g.state === "PreparingRebalance" ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE
      })

    const leaveGroup: InMemoryCoordinator["Type"]["leaveGroup"] = (request) =>
      Effect.gen(function* () {
        const g = groups.get(request.groupId)
        const m = g?.members.get(request.memberId)
        if (g === undefined || m === undefined) return ErrorCode.UNKNOWN_MEMBER_ID
        yield* record(g, "Left", m.memberId)
        yield* removeMember(g, m)
        return ErrorCode.NONE
      })

    // As Kafka's classic groups: a commit with no generation (-1) is taken by an empty or unknown
    // group (offset storage for simple consumers and admin tools; it creates the group); any other
    // commit must come from a member in the current generation, and none is taken while the group
    // completes a rebalance (members commit before they rejoin, while it prepares one).
    const validateOffsetCommit: InMemoryCoordinator["Type"]["validateOffsetCommit"] = (request) =>
      Effect.suspend(() => {
        const g = groups.get(request.groupId)
        if (g === undefined) return Effect.succeed(request.generationId < 0 ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION)
        if (request.generationId < 0 && g.state === "Empty") return Effect.succeed(ErrorCode.NONE)
        const m = g.members.get(request.memberId)
        if (m === undefined) return Effect.succeed(ErrorCode.UNKNOWN_MEMBER_ID)
        if (request.generationId !== g.generationId) return Effect.succeed(ErrorCode.ILLEGAL_GENERATION)
        if (g.state === "CompletingRebalance") return Effect.succeed(ErrorCode.REBALANCE_IN_PROGRESS)
        return Effect.as(resetSession(g, m), ErrorCode.NONE)
      })

    const offsetCommit: InMemoryCoordinator["Type"]["offsetCommit"] = (request) =>
      Effect.gen(function* () {
        const code = yield* validateOffsetCommit(request)
        if (code !== ErrorCode.NONE) return request.offsets.map(() => code)
        // Offsets committed from outside any group make the group exist (Empty), as in Kafka.
        if (request.offsets.length > 0) groupOf(request.groupId)
        const at = yield* Clock.currentTimeMillis
        yield* model.commitOffsets(request.groupId, request.offsets)
        for (const o of request.offsets) {
          commitLog.push({
            at,
            groupId: request.groupId,
            memberId: request.memberId,
            generationId: request.generationId,
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
          })
        }
        return request.offsets.map(() => ErrorCode.NONE)
      })

    // ---- the port, one per client ----------------------------------------------------------------

    const client = (name: string): Port => {
      const transport = (groupId: string, api: KafkaError.ApiName, reason: KafkaError.TransportReason) =>
        new GroupError.GroupTransportError({ groupId, api, reason, retriable: true })

      /** Through the model's request path (faults, latency, log); codes become tagged errors. */
      const serve = <A>(
        groupId: string,
        api: KafkaError.ApiName,
        partitions: ReadonlyArray<TopicPartition.TopicPartition>,
        answer: (context: BrokerModel.ServeContext) => Effect.Effect<A, GroupError.GroupFailure>,
      ): Effect.Effect<A, GroupError.GroupFailure> =>
        Effect.suspend(() =>
          disconnected.has(name)
            ? Effect.fail(transport(groupId, api, "Network"))
            : model.serve(api, partitions, (context) =>
                context.requestCode !== undefined && context.requestCode !== ErrorCode.NONE
                  ? Effect.fail(failure(context.requestCode, groupId, api))
                  : answer(context),
              ),
        ).pipe(
          Effect.catchTag("RequestFault", (fault) => Effect.fail(transport(groupId, api, fault.reason))),
          // A client that disconnects while its request waits never sees the answer.
          Effect.flatMap((a) => (disconnected.has(name) ? Effect.fail(transport(groupId, api, "Network")) : Effect.succeed(a))),
        )

      const failure = (code: number, groupId: string, api: KafkaError.ApiName, facts: { memberId?: string; generationId?: number; protocols?: ReadonlyArray<string> } = {}) =>
        GroupError.fromCode(code, { groupId, api, ...facts }) ??
        transport(groupId, api, "Unknown")

      const check = <A>(code: number, value: A, groupId: string, api: KafkaError.ApiName, facts: { memberId?: string; generationId?: number; protocols?: ReadonlyArray<string> } = {}) =>
        code === ErrorCode.NONE ? Effect.succeed(value) : Effect.fail(failure(code, groupId, api, facts))

      return {
        findCoordinator: (groupId) =>
          serve(groupId, "FindCoordinator", [], () => {
            const b = model.brokers[0]
            return Effect.succeed({ nodeId: b.nodeId, host: b.host, port: b.port })
          }),
        joinGroup: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "JoinGroup", [], () =>
            Effect.flatMap(joinGroup(name, request), (a) =>
              check(a.code, { generationId: a.generationId, protocolName: a.protocolName, leaderId: a.leaderId, memberId: a.memberId, members: a.members }, request.groupId, "JoinGroup", {
                memberId: request.memberId,
                protocols: request.protocols.map((p) => p.name),
              }),
            ),
          ),
        syncGroup: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "SyncGroup", [], () =>
            Effect.flatMap(syncGroup(request), (a) =>
              check(a.code, { assignment: a.assignment }, request.groupId, "SyncGroup", { memberId: request.memberId, generationId: request.generationId }),
            ),
          ),
        heartbeat: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "Heartbeat", [], () =>
            Effect.flatMap(heartbeat(request), (code) =>
              check(code, undefined, request.groupId, "Heartbeat", { memberId: request.memberId, generationId: request.generationId }),
            ),
          ),
        leaveGroup: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "LeaveGroup", [], () =>
            Effect.flatMap(leaveGroup(request), (code) => check(code, undefined, request.groupId, "LeaveGroup", { memberId: request.memberId })),
          ),
        offsetFetch: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "OffsetFetch", request.partitions, (context) => {
            const injected = request.partitions.map((tp) => context.injectedCode(tp)).find((c) => c !== undefined && c !== ErrorCode.NONE)
            if (injected !== undefined) return Effect.fail(failure(injected, request.groupId, "OffsetFetch"))
            return Effect.map(model.committedOffsets(request.groupId, request.partitions), (offsets) =>
              offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset < 0n ? undefined : o.offset, metadata: o.metadata })),
            )
          }),
        offsetCommit: ({ coordinator: _, ...request }) =>
          serve(request.groupId, "OffsetCommit", request.offsets.map((o) => TopicPartition.make(o.topic, o.partition)), (context) => {
            const injected = request.offsets.map((o) => context.injectedCode(o)).find((c) => c !== undefined && c !== ErrorCode.NONE)
            if (injected !== undefined) return Effect.fail(failure(injected, request.groupId, "OffsetCommit"))
            return Effect.flatMap(offsetCommit(request), (codes) => {
              const code = codes.find((c) => c !== ErrorCode.NONE) ?? ErrorCode.NONE
              return check(code, undefined, request.groupId, "OffsetCommit", { memberId: request.memberId, generationId: request.generationId })
            })
          }),
      }
    }

    return {
      joinGroup,
      syncGroup,
      heartbeat,
      leaveGroup,
      offsetCommit,
      validateOffsetCommit,
      client,
      disconnect: (name) =>
        Effect.sync(() => {
          disconnected.add(name)
        }),
      describe: (groupId) =>
        Effect.sync(() => {
          const g = groups.get(groupId)
          if (g === undefined) {
            return {
              groupId,
              state: "Empty",
              known: false,
              generationId: 0,
              protocolType: undefined,
              protocolName: undefined,
              leaderId: undefined,
              members: [],
            }
          }
          return {
            groupId,
            state: g.state,
            known: true,
            generationId: g.generationId,
            protocolType: g.protocolType,
            protocolName: g.protocolName,
            leaderId: g.leaderId,
            members: [...g.members.values()].map((m) => ({
              memberId: m.memberId,
              clientId: m.clientId,
              clientHost: m.clientHost,
              groupInstanceId: m.groupInstanceId,
              protocols: m.protocols.map((p) => p.name),
              metadata: m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? empty,
              assignment: m.assignment,
            })),
          }
        }),
      list: Effect.sync(() => Array.from(groups.values(), (g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? "" }))),
      commitLog: (groupId) => Effect.sync(() => commitLog.filter((e) => e.groupId === groupId)),
      events: (groupId) => Effect.sync(() => eventLog.filter((e) => e.groupId === groupId)),
    }
  })

/**
 * core's `TopicMetadata` over the model in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTopicMetadata: Effect.Effect<GroupCoordinatorModule.TopicMetadata["Type"], never, BrokerModel.BrokerModel> =
  Effect.map(BrokerModel.BrokerModel, (model) => ({
    partitionCounts: (topics) =>
      Effect.map(model.metadata(topics), (list) => new Map(list.map((t) => [t.name, t.partitions.length]))),
  }))

/**
 * The coordinator (control), core's `GroupCoordinator` port (one shared client named "default")
 * and `TopicMetadata`, over the model in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromModel = (
  options: Options = {},
): Layer.Layer<InMemoryCoordinator | GroupCoordinatorModule.GroupCoordinator | GroupCoordinatorModule.TopicMetadata, never, BrokerModel.BrokerModel> =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const coordinator = yield* make(options)
      const metadata = yield* makeTopicMetadata
      return Context.make(InMemoryCoordinator, coordinator).pipe(
        Context.add(GroupCoordinatorModule.GroupCoordinator, coordinator.client("default")),
        Context.add(GroupCoordinatorModule.TopicMetadata, metadata),
      )
    }),
  )
