/**
 * Consumer-group membership, in Effect: the state machine Unjoined → Joining → Syncing → Stable →
 * Rebalancing → Joining …, a heartbeat fiber, session and rebalance timeouts on the Clock, rejoining
 * on REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION, the leader's assignment, the
 * rebalance listener, and commits (auto-commit of what was processed, manual commits, commit on
 * revoke and on close). Closing the scope commits and leaves the group.
 *
 * The membership decides which partitions this member owns and where a newly assigned partition
 * starts (its committed offset, when the group has one). It tells the consumer through a
 * `GroupHandler`: `suspend` (a rebalance begins: deliver nothing more from these partitions) and
 * `apply` (the new assignment: drop the revoked ones with their pending seeks, add the new ones,
 * resume the kept ones with their positions).
 *
 * The rebalance protocol is eager by default: before rejoining, the member stops delivery from all
 * it owns, runs `onRevoked` for all of it and commits; after the SyncGroup, partitions it keeps
 * resume where they were (their pending seeks stay), the others go. With only cooperative assignors
 * (`Assignor.cooperativeSticky`) it is incremental: the member keeps consuming through the
 * rebalance, revokes (and commits) only what the new assignment takes away, and rejoins at once so
 * that a second round hands those partitions to their new owners.
 *
 * @since 0.1.0
 */
import {
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Metric,
  Option,
  Queue,
  Ref,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef,
} from "effect"
import * as ConsumerMetrics from "../ConsumerMetrics.js"
import * as ErrorCode from "../ErrorCode.js"
import * as TopicPartition from "../TopicPartition.js"
import { attributes } from "../Tracing.js"
import * as Assignor from "./Assignor.js"
import {
  type CommittedOffset,
  type Coordinator,
  GroupCoordinator,
  type JoinGroupResponse,
  type OffsetToCommit,
  TopicMetadata,
} from "./GroupCoordinator.js"
import {
  type CoordinatorError,
  type GroupFailure,
  GroupTransportError,
  isCoordinatorError,
  isRejoinError,
  type MemberProtocolError,
  RebalanceInProgress,
  type RejoinError,
  UnsupportedAssignor,
} from "./GroupError.js"
import * as MemberProtocol from "./MemberProtocol.js"

type TP = TopicPartition.TopicPartition

/**
 * Where a member is in the group protocol.
 *
 * @since 0.1.0
 * @category models
 */
export type MemberState = Data.TaggedEnum<{
  Unjoined: {}
  Joining: { readonly memberId: string }
  Syncing: { readonly memberId: string; readonly generationId: number; readonly leader: boolean }
  Stable: {
    readonly memberId: string
    readonly generationId: number
    readonly leader: boolean
    readonly protocol: string
    readonly assignment: ReadonlyArray<TP>
  }
  /** A rebalance began: delivery is suspended, `onRevoked` and the commit run, then the member rejoins. */
  Rebalancing: { readonly memberId: string; readonly generationId: number; readonly reason: RejoinReason }
  /** The scope closed: committed and left the group. */
  Left: {}
}>

/**
 * The constructors and matchers of `MemberState`.
 *
 * @since 0.1.0
 * @category models
 */
export const MemberState = Data.taggedEnum<MemberState>()

/**
 * Why the member joins the group again.
 *
 * @since 0.1.0
 * @category errors
 */
export type RejoinReason =
  /** The coordinator answered REBALANCE_IN_PROGRESS (another member joined or left). */
  | "RebalanceInProgress"
  /** The subscription changed. */
  | "SubscriptionChanged"
  /** Cooperative: this member revoked partitions; a second round hands them to their new owners. */
  | "CooperativeRevoke"
  /** The leader saw a subscribed topic's partition count change (or a subscribed topic appear). */
  | "MetadataChanged"
  /** UNKNOWN_MEMBER_ID: the coordinator forgot this member; its partitions are lost; rejoin as a new member. */
  | "UnknownMember"
  /** ILLEGAL_GENERATION: a newer generation exists; the partitions are lost; rejoin with the same member id. */
  | "IllegalGeneration"
  /** No heartbeat got through for a whole session timeout: the coordinator has dropped us. */
  | "SessionTimeout"
  /** The coordinator moved or was not available for a whole `retrySchedule`: find it and join again. */
  | "CoordinatorNotAvailable"

/**
 * A partition newly assigned to this member, with the offset the group committed for it.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddedPartition {
  readonly topic: string
  readonly partition: number
  /** `undefined` when the group has no committed offset: the consumer's `autoOffsetReset` decides. */
  readonly committed: bigint | undefined
}

/**
 * A change of this member's assignment in a generation: assigned, revoked, kept and added partitions.
 *
 * @since 0.1.0
 * @category models
 */
export interface AssignmentChange {
  readonly generationId: number
  readonly memberId: string
  /** The whole new assignment. */
  readonly assigned: ReadonlyArray<TP>
  /** Owned before, not any more: drop their positions and pending seeks. */
  readonly revoked: ReadonlyArray<TP>
  /** Owned before and still: keep positions and pending seeks, resume delivery. */
  readonly kept: ReadonlyArray<TP>
  /** New: start at `committed`, else where a pending seek or `autoOffsetReset` says. */
  readonly added: ReadonlyArray<AddedPartition>
}

/**
 * What the consumer gives the membership: how to stop and restart delivery.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupHandler {
  /**
   * A rebalance (or shutdown) begins: deliver nothing more from these partitions, and discard any
   * fetch in flight for them. Positions and pending seeks stay.
   */
  readonly suspend: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
  /** Take the new assignment. Runs after `suspend`, before `onAssigned`. */
  readonly apply: (change: AssignmentChange) => Effect.Effect<void>
}

/**
 * The user's rebalance listener. Its Effects run inside the rebalance; a defect is logged, never fatal.
 *
 * @since 0.1.0
 * @category models
 */
export interface RebalanceListener {
  /** Before the partitions go (delivery is already suspended): the place to commit. */
  readonly onRevoked?: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
  /** After the new assignment is taken: the place to seek. */
  readonly onAssigned?: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
  /** The member was fenced or its session expired: the partitions are gone, committing is too late. */
  readonly onLost?: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
}

/**
 * Options of a group membership: group id and topics, the session, rebalance and heartbeat timing,
 * the assignors, auto-commit, the retry schedule, a rebalance listener and the metadata refresh age.
 *
 * @since 0.1.0
 * @category options
 */
export interface GroupOptions {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Default 30 seconds (kafkajs's default). */
  readonly sessionTimeout?: Duration.DurationInput
  /** How long the coordinator waits for all members to rejoin. Default 60 seconds. */
  readonly rebalanceTimeout?: Duration.DurationInput
  /** Default 3 seconds. */
  readonly heartbeatInterval?: Duration.DurationInput
  /** In order of preference. Default `Assignor.defaults` (range, roundrobin, RoundRobinAssigner). */
  readonly assignors?: ReadonlyArray<Assignor.Assignor>
  /** Default true. */
  readonly autoCommit?: boolean
  /** Default 5 seconds. */
  readonly autoCommitInterval?: Duration.DurationInput
  /**
   * Backoff for coordinator errors, transport errors and rejoins. Default exponential from 100 ms,
   * jittered, capped at 5 seconds.
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown>
  readonly listener?: RebalanceListener
  /**
   * How often the leader checks the partition counts of the subscribed topics, and rejoins when
   * they changed since its assignment. Default 5 minutes (Kafka's `metadata.max.age.ms`).
   */
  readonly metadataMaxAge?: Duration.DurationInput
}

/**
 * What the membership cannot get past: the member stops, `failure` fails with it, and so do the
 * group's streams. The membership handles every other group error itself: it rejoins on
 * `RebalanceInProgress`, `UnknownMemberId`, `IllegalGeneration` and `MemberIdRequired`, and finds
 * the coordinator again on `NotCoordinator` and `CoordinatorNotAvailable`, however long it takes.
 *
 * - `GroupAuthorizationFailed`, `TopicAuthorizationFailed`: the member may not use the group or a topic.
 * - `InconsistentGroupProtocol`, `UnsupportedAssignor`: the members share no assignor.
 * - `MemberProtocolError`: another member's metadata or assignment bytes cannot be decoded.
 * - `GroupTransportError`: a request failed below the protocol (non-retriable, e.g. authentication;
 *   or retriable once `retrySchedule` ended, which the default never does).
 * - `UnknownTopicOrPartition`, `BrokerError`, `CorruptResponse`: any other answer a request got.
 *
 * @since 0.1.0
 * @category errors
 */
export type FatalGroupError = Exclude<GroupFailure, RejoinError | CoordinatorError> | UnsupportedAssignor | MemberProtocolError

/** What one step of the membership can fail with, before it handles the errors it retries itself. */
type StepError = GroupFailure | UnsupportedAssignor | MemberProtocolError

/**
 * A running membership: its state (now and as a stream), its assignment, marking records processed,
 * committing and reading committed offsets, changing the subscription, and its fatal failure.
 *
 * @since 0.1.0
 * @category models
 */
export interface Membership {
  readonly groupId: string
  readonly state: Effect.Effect<MemberState>
  /** The current state and every change after it. */
  readonly states: Stream.Stream<MemberState>
  /** The partitions this member owns now (empty while unjoined). */
  readonly assignment: Effect.Effect<ReadonlyArray<TP>>
  /** Waits until the member is Stable in a generation newer than `after` (default: the first one). */
  readonly awaitStable: (after?: number) => Effect.Effect<Extract<MemberState, { _tag: "Stable" }>>
  /**
   * Records handed to the user and processed: their offsets + 1 become committable. Synchronous
   * bookkeeping over the whole array, no Effect per record. Records of partitions this member does
   * not own are ignored.
   */
  readonly markProcessed: (records: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>) => Effect.Effect<void>
  /**
   * Records handed downstream now (`GroupConsumer`'s streams say so for each chunk). A record
   * delivered while an earlier ownership of its partition lasted is not taken by `markProcessed`
   * (its partition went to another member and came back meanwhile, with newer commits); a seek
   * back within this ownership makes the records delivered after it acceptable again.
   */
  readonly markDelivered: (records: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>) => Effect.Effect<void>
  /**
   * Commits `offsets` (the next offset to consume per partition), or, without an argument, what
   * was processed and not committed yet. Fails with `RebalanceInProgress` while the member has no
   * generation.
   */
  readonly commit: (offsets?: ReadonlyArray<OffsetToCommit>) => Effect.Effect<void, GroupFailure>
  /** The group's committed offsets for these partitions. */
  readonly committed: (partitions: ReadonlyArray<TP>) => Effect.Effect<ReadonlyArray<CommittedOffset>, GroupFailure>
  /** Replaces the subscription and rejoins. */
  readonly subscribe: (topics: ReadonlyArray<string>) => Effect.Effect<void>
  /** Fails when the membership hits a fatal error; never succeeds. */
  readonly failure: Effect.Effect<never, FatalGroupError>
}

const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential("100 millis").pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("5 seconds")),
)

interface Generation {
  readonly generationId: number
  readonly memberId: string
}

/**
 * The membership's bookkeeping, one record in one `Ref`, replaced whole on every change (the public
 * `MemberState` is a `SubscriptionRef` of its own, for `states`).
 */
interface Book {
  readonly topics: ReadonlyArray<string>
  readonly coordinator: Option.Option<Coordinator>
  /** "" until the coordinator gives one, and again after it forgot this member. */
  readonly memberId: string
  /** The generation whose assignment this member took; undefined before, and once it is lost. */
  readonly generation: Generation | undefined
  readonly owned: ReadonlyArray<TP>
  readonly ownedKeys: ReadonlySet<string>
  /**
   * The generation whose assignment `owned` is. Only the same or the next generation (same member
   * id) can keep it: after a gap another member may have owned and committed these partitions.
   */
  readonly ownedIn: Generation | undefined
  /** `onRevoked` ran for what is owned and its commit was tried; the new assignment is not taken yet. */
  readonly revoked: boolean
  /** The partition counts the leader assigned with (undefined on followers). */
  readonly assignedCounts: ReadonlyMap<string, number> | undefined
  /** Per partition key: the next offset after what was processed. */
  readonly processed: ReadonlyMap<string, bigint>
  /** Per partition key: the offset this member committed last. */
  readonly committed: ReadonlyMap<string, bigint>
  /**
   * Per partition key: the lowest offset this ownership of the partition started at or delivered
   * (the committed offset it was assigned with, lowered by deliveries after a seek back). A record
   * below it was delivered while an earlier ownership lasted: marking it processed now would
   * commit an offset from before what the group committed meanwhile, so it is ignored.
   */
  readonly floor: ReadonlyMap<string, bigint>
}

/** The book with `owned` replaced; what it tracked for partitions no longer owned goes. */
const withOwned = (book: Book, partitions: ReadonlyArray<TP>): Book => {
  const owned = [...partitions].sort(TopicPartition.Order)
  const ownedKeys = new Set(owned.map(TopicPartition.key))
  const keep = (m: ReadonlyMap<string, bigint>) => new Map([...m].filter(([k]) => ownedKeys.has(k)))
  return { ...book, owned, ownedKeys, processed: keep(book.processed), committed: keep(book.committed), floor: keep(book.floor) }
}

/** Whether an assignment of `next` may keep what was owned in `ownedIn` (positions, processed offsets). */
const follows = (ownedIn: Generation | undefined, next: Generation): boolean =>
  ownedIn !== undefined &&
  ownedIn.memberId === next.memberId &&
  (next.generationId === ownedIn.generationId || next.generationId === ownedIn.generationId + 1)

/** What was processed and not committed yet, of `partitions`. */
const dirtyOffsets = (book: Book, partitions: ReadonlyArray<TP>): Array<OffsetToCommit> => {
  const out: Array<OffsetToCommit> = []
  for (const tp of partitions) {
    const k = TopicPartition.key(tp)
    const offset = book.processed.get(k)
    if (offset !== undefined && offset !== book.committed.get(k)) out.push({ topic: tp.topic, partition: tp.partition, offset })
  }
  return out
}

/** The rejoin a group error asks for, when the membership handles it by rejoining. */
const rejoinReason = (e: RejoinError | CoordinatorError): RejoinReason => {
  switch (e._tag) {
    case "UnknownMemberId":
      return "UnknownMember"
    case "IllegalGeneration":
      return "IllegalGeneration"
    case "RebalanceInProgress":
    case "MemberIdRequired":
      return "RebalanceInProgress"
    case "NotCoordinator":
    case "CoordinatorNotAvailable":
      return "CoordinatorNotAvailable"
  }
}

/**
 * A SyncGroup that arrives after the group already went Stable: Kafka answers it with the
 * assignment, librdkafka's mock cluster with INVALID_REQUEST. Joining again is the way out.
 */
const isLateSync = (e: StepError): boolean =>
  e._tag === "BrokerError" && e.api === "SyncGroup" && e.code === ErrorCode.INVALID_REQUEST

const isLost = (reason: RejoinReason): boolean =>
  reason === "UnknownMember" || reason === "IllegalGeneration" || reason === "SessionTimeout"

type StableOutcome = { readonly _tag: "Rejoin"; readonly reason: RejoinReason }

const isRetriableTransport = (e: StepError): boolean =>
  (e._tag === "GroupTransportError" && e.retriable) || isCoordinatorError(e)

const safely = (label: string, effect: Effect.Effect<void>): Effect.Effect<void> =>
  effect.pipe(
    Effect.catchAllCause((cause) => Effect.logWarning(`Rebalance listener ${label} failed`, cause)),
  )

/**
 * Joins the group and keeps the membership for the lifetime of the scope. Returns once the
 * background fibers run (the first assignment comes later: see `awaitStable`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: GroupOptions,
  handler: GroupHandler,
): Effect.Effect<Membership, never, GroupCoordinator | TopicMetadata | Scope.Scope> =>
  Effect.gen(function* () {
    const coordinatorPort = yield* GroupCoordinator
    const metadata = yield* TopicMetadata
    const groupId = options.groupId
    const sessionTimeout = Duration.decode(options.sessionTimeout ?? "30 seconds")
    const rebalanceTimeout = Duration.decode(options.rebalanceTimeout ?? "60 seconds")
    const heartbeatInterval = Duration.decode(options.heartbeatInterval ?? "3 seconds")
    const assignors = options.assignors ?? Assignor.defaults
    const cooperative = assignors.length > 0 && assignors.every((a) => a.rebalanceProtocol === "cooperative")
    const autoCommit = options.autoCommit ?? true
    const autoCommitInterval = Duration.decode(options.autoCommitInterval ?? "5 seconds")
    const retrySchedule = options.retrySchedule ?? defaultRetry
    const listener = options.listener ?? {}
    const metadataMaxAge = Duration.decode(options.metadataMaxAge ?? "5 minutes")

    const stateRef = yield* SubscriptionRef.make<MemberState>(MemberState.Unjoined())
    const book = yield* Ref.make<Book>({
      topics: [...new Set(options.topics)],
      coordinator: Option.none(),
      memberId: "",
      generation: undefined,
      owned: [],
      ownedKeys: new Set(),
      ownedIn: undefined,
      revoked: false,
      assignedCounts: undefined,
      processed: new Map(),
      committed: new Map(),
      floor: new Map(),
    })
    const rejoinRequests = yield* Queue.sliding<RejoinReason>(1)
    const failed = yield* Deferred.make<never, FatalGroupError>()
    const commitLock = yield* Effect.makeSemaphore(1)

    const read = Ref.get(book)
    const update = (f: (b: Book) => Book) => Ref.update(book, f)
    const disown = update((b) => ({ ...withOwned(b, []), ownedIn: undefined }))

    const annotate = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.annotateLogs(effect, { groupId })

    /** A span around one request of the group protocol, with the group's messaging attributes. */
    const groupSpan = (name: string, operationType?: string) =>
      Effect.withSpan(name, {
        kind: "client",
        attributes: {
          [attributes.system]: "kafka",
          [attributes.group]: groupId,
          [attributes.operationName]: name,
          ...(operationType === undefined ? {} : { [attributes.operationType]: operationType }),
        },
      })
    const groupMetric = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) =>
      ConsumerMetrics.tagged(metric, ConsumerMetrics.tags.group, groupId)
    const commitsOk = groupMetric(ConsumerMetrics.commits)
    const commitLatency = groupMetric(ConsumerMetrics.commitLatency)

    const setState = (s: MemberState) => SubscriptionRef.set(stateRef, s)

    const forgetCoordinator = update((b) => ({ ...b, coordinator: Option.none() }))

    const coordinator = Effect.flatMap(read, (b) =>
      Option.match(b.coordinator, {
        onSome: Effect.succeed,
        onNone: () =>
          coordinatorPort
            .findCoordinator(groupId)
            .pipe(Effect.tap((c) => update((b) => ({ ...b, coordinator: Option.some(c) })))),
      }),
    )

    /** One request at the coordinator; a coordinator or transport error forgets the coordinator. */
    const atCoordinator = <A>(request: (c: Coordinator) => Effect.Effect<A, GroupFailure>) =>
      Effect.flatMap(coordinator, request).pipe(
        Effect.tapError((e) => (isRetriableTransport(e) ? forgetCoordinator : Effect.void)),
      )

    /** The same, retried on the schedule while the coordinator is away or the network fails. */
    const atCoordinatorRetried = <A>(request: (c: Coordinator) => Effect.Effect<A, GroupFailure>) =>
      atCoordinator(request).pipe(Effect.retry({ schedule: retrySchedule, while: isRetriableTransport }))

    /** For commits: a few attempts, so a shutdown with the coordinator gone does not hang. */
    const atCoordinatorRetriedBounded = <A>(request: (c: Coordinator) => Effect.Effect<A, GroupFailure>) =>
      atCoordinator(request).pipe(
        Effect.retry({ schedule: Schedule.intersect(retrySchedule, Schedule.recurs(3)), while: isRetriableTransport }),
      )

    /** Heartbeats every `heartbeatInterval` for as long as `effect` runs (the session stays alive meanwhile). */
    const keepingAlive = <A, E>(gen: Generation | undefined, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      gen === undefined ? effect : Effect.scoped(Effect.zipRight(Effect.forkScoped(keepAlive(gen)), effect))

    // ---- commits -------------------------------------------------------------------------------

    /**
     * Commits what `select` picks from the book, read once the commit lock is held (a commit that
     * waited for another reads what is true after it, not what was true before).
     */
    const commitSelected = (select: (b: Book) => ReadonlyArray<OffsetToCommit>) =>
      commitLock.withPermits(1)(
        Effect.gen(function* () {
          const b = yield* read
          const offsets = select(b)
          if (offsets.length === 0) return
          const gen = b.generation
          if (gen === undefined) {
            return yield* new RebalanceInProgress({ groupId, api: "OffsetCommit" })
          }
          yield* atCoordinatorRetriedBounded((c) =>
            coordinatorPort
              .offsetCommit({
                groupId,
                coordinator: c,
                generationId: gen.generationId,
                memberId: gen.memberId,
                offsets,
              })
              .pipe(ConsumerMetrics.timed(commitLatency)),
          ).pipe(
            Effect.tapBoth({
              onFailure: (e) => Metric.increment(ConsumerMetrics.tagged(commitsOk, ConsumerMetrics.tags.errorType, e._tag)),
              onSuccess: () => Metric.increment(commitsOk),
            }),
            groupSpan("commit", "settle"),
            Effect.annotateSpans({ "messaging.kafka.partition_count": offsets.length, "messaging.kafka.generation_id": gen.generationId }),
          )
          yield* update((b) => {
            const committed = new Map(b.committed)
            for (const o of offsets) {
              const k = TopicPartition.key(o)
              if (b.ownedKeys.has(k)) committed.set(k, o.offset)
            }
            return { ...b, committed }
          })
          yield* Effect.logDebug("Committed offsets").pipe(
            Effect.annotateLogs({ generationId: gen.generationId, offsets: offsets.map((o) => `${o.topic}-${o.partition}@${o.offset}`).join(",") }),
          )
        }),
      )

    const commitOffsets = (offsets: ReadonlyArray<OffsetToCommit>) => commitSelected(() => offsets)

    /** What was processed and not committed yet, of `partitions` that are still owned when the commit goes. */
    const commitProcessed = (partitions: ReadonlyArray<TP>) =>
      commitSelected((b) => dirtyOffsets(b, partitions.filter((tp) => b.ownedKeys.has(TopicPartition.key(tp)))))

    /** A commit that may fail without stopping the rebalance or the shutdown; the failure is logged. */
    const commitBestEffort = (partitions: ReadonlyArray<TP>, when: string) =>
      commitProcessed(partitions).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(`Commit ${when} failed; the next owner restarts from the last committed offset`).pipe(
            Effect.annotateLogs({ error: e._tag, message: e.message }),
          ),
        ),
      )

    // ---- revoke / lose -------------------------------------------------------------------------

    /**
     * The partitions are gone without a commit (another member may own them already): delivery is
     * already suspended; `onLost` runs unless `onRevoked` already did; the consumer drops them with
     * their positions.
     */
    const lose = (partitions: ReadonlyArray<TP>, memberId: string, revoked: boolean, why: Record<string, unknown>) =>
      Effect.gen(function* () {
        yield* Effect.logWarning("Partitions lost").pipe(
          Effect.annotateLogs({ ...why, partitions: partitions.map(TopicPartition.format).join(",") }),
        )
        if (!revoked) yield* safely("onLost", listener.onLost?.(partitions) ?? Effect.void)
        yield* Effect.uninterruptible(
          Effect.zipRight(handler.apply({ generationId: -1, memberId, assigned: [], revoked: partitions, kept: [], added: [] }), disown),
        )
      })

    const revokeAll = (reason: RejoinReason) =>
      Effect.gen(function* () {
        const b = yield* read
        const gen = b.generation
        if (gen !== undefined) yield* setState(MemberState.Rebalancing({ memberId: gen.memberId, generationId: gen.generationId, reason }))
        const partitions = b.owned
        if (partitions.length === 0) return
        yield* handler.suspend(partitions)
        if (isLost(reason)) {
          // Too late to commit: another member may own these already.
          yield* update((b) => ({ ...b, generation: undefined }))
          yield* lose(partitions, b.memberId, false, { reason })
          return
        }
        // A round that ended before its assignment was taken already revoked these.
        if (b.revoked) return
        yield* update((b) => ({ ...b, revoked: true }))
        yield* safely("onRevoked", listener.onRevoked?.(partitions) ?? Effect.void)
        yield* commitBestEffort(partitions, "on revoke")
      })

    // ---- join and sync -------------------------------------------------------------------------

    const leaderAssign = (join: JoinGroupResponse) =>
      Effect.gen(function* () {
        const assignor = assignors.find((a) => a.name === join.protocolName)
        if (assignor === undefined) {
          return yield* new UnsupportedAssignor({ groupId, protocol: join.protocolName, available: assignors.map((a) => a.name) })
        }
        const members = yield* Effect.forEach(join.members, (m) =>
          Effect.map(MemberProtocol.decodeSubscription(m.metadata), (subscription) => ({ memberId: m.memberId, subscription })),
        )
        const topics = [...new Set(members.flatMap((m) => m.subscription.topics))].sort()
        const counts = yield* metadata.partitionCounts(topics)
        yield* update((b) => ({ ...b, assignedCounts: counts }))
        const result = assignor.assign(members, counts)
        yield* Effect.logInfo("Assigned partitions as group leader").pipe(
          Effect.annotateLogs({
            generationId: join.generationId,
            protocol: join.protocolName,
            assignment: [...result].map(([id, tps]) => `${id}=[${tps.map(TopicPartition.format).join(",")}]`).join(" "),
          }),
        )
        return join.members.map((m) => ({
          memberId: m.memberId,
          assignment: MemberProtocol.encodeAssignment({ partitions: result.get(m.memberId) ?? [] }),
        }))
      })

    /** One JoinGroup, with this member's subscription for every assignor it offers. */
    const joinOnce = Effect.gen(function* () {
      const b = yield* read
      // Cooperative members tell the leader what they own (subscription v1).
      const metadataBytes = cooperative
        ? MemberProtocol.encodeSubscription({ version: 1, topics: b.topics, ownedPartitions: b.owned })
        : MemberProtocol.encodeSubscription({ topics: b.topics })
      const protocols = assignors.map((a) => ({ name: a.name, metadata: metadataBytes }))
      yield* setState(MemberState.Joining({ memberId: b.memberId }))
      const timeoutMs = Duration.toMillis(rebalanceTimeout) + 5000
      return yield* atCoordinator((c) =>
        coordinatorPort
          .joinGroup({
            groupId,
            coordinator: c,
            sessionTimeoutMs: Duration.toMillis(sessionTimeout),
            rebalanceTimeoutMs: Duration.toMillis(rebalanceTimeout),
            memberId: b.memberId,
            protocolType: "consumer",
            protocols,
          })
          .pipe(
            Effect.timeoutFail({
              duration: Duration.millis(timeoutMs),
              onTimeout: () => new GroupTransportError({ groupId, api: "JoinGroup", reason: "Timeout", retriable: true }),
            }),
          ),
      ).pipe(groupSpan("join_group"))
    })

    type Synced = { readonly join: JoinGroupResponse; readonly assignment: ReadonlyArray<TP> }

    const retriedInPlace = (e: StepError): boolean => isRejoinError(e) || isRetriableTransport(e) || isLateSync(e)

    /** The retry schedule of a join and sync, saying so in the log each time it tries again. */
    const joinRetry = Schedule.identity<StepError>().pipe(
      Schedule.whileInput(retriedInPlace),
      Schedule.zipLeft(retrySchedule),
      Schedule.onDecision((e, decision) =>
        decision._tag === "Continue"
          ? Effect.logInfo("Join or sync failed; trying again").pipe(
              Effect.annotateLogs({ error: e._tag, message: e.message, cause: "cause" in e ? String(e.cause) : "" }),
            )
          : Effect.void,
      ),
    )

    const joinAndSync: Effect.Effect<Synced, StepError> = Effect.gen(function* () {
      const join = yield* joinOnce
      const memberId = join.memberId
      yield* update((b) => ({ ...b, memberId }))
      const leader = join.leaderId === join.memberId
      yield* setState(MemberState.Syncing({ memberId, generationId: join.generationId, leader }))
      const assignments = leader ? yield* leaderAssign(join) : []
      const sync = yield* atCoordinator((c) =>
        coordinatorPort.syncGroup({ groupId, coordinator: c, generationId: join.generationId, memberId, assignments }),
      ).pipe(groupSpan("sync_group"), Effect.annotateSpans("messaging.kafka.generation_id", join.generationId))
      const decoded = yield* MemberProtocol.decodeAssignment(sync.assignment)
      const topics = new Set((yield* read).topics)
      const foreign = decoded.partitions.filter((tp) => !topics.has(tp.topic))
      if (foreign.length > 0) {
        yield* Effect.logWarning("Assignment holds topics this member did not subscribe to; ignoring them").pipe(
          Effect.annotateLogs({ partitions: foreign.map(TopicPartition.format).join(",") }),
        )
      }
      const assignment = decoded.partitions.filter((tp) => topics.has(tp.topic)).sort(TopicPartition.Order)
      return { join, assignment }
    }).pipe(
      // UNKNOWN_MEMBER_ID: join again as a new member. MEMBER_ID_REQUIRED: with the id the coordinator gave.
      Effect.tapError((e) =>
        e._tag === "UnknownMemberId"
          ? update((b) => ({ ...b, memberId: "" }))
          : e._tag === "MemberIdRequired"
            ? update((b) => ({ ...b, memberId: e.memberId }))
            : Effect.void,
      ),
      Effect.retry(joinRetry),
    )

    const takeAssignment = (synced: Synced) =>
      Effect.gen(function* () {
        const { join, assignment } = synced
        const next: Generation = { generationId: join.generationId, memberId: join.memberId }
        const prior = yield* read
        if (prior.owned.length > 0 && !follows(prior.ownedIn, next)) {
          // A generation went by without this member (its SyncGroup failed, or it joined again as
          // a new member): what it owned may have had another owner and newer commits meanwhile.
          // Nothing of it is kept; what comes back starts from the group's committed offset.
          yield* handler.suspend(prior.owned)
          yield* lose(prior.owned, prior.memberId, prior.revoked, {
            reason: "MissedGeneration",
            ownedIn: prior.ownedIn?.generationId ?? -1,
            generationId: join.generationId,
          })
        }
        const before = yield* read
        const newKeys = new Set(assignment.map(TopicPartition.key))
        const gone = before.owned.filter((tp) => !newKeys.has(TopicPartition.key(tp)))
        const kept = before.owned.filter((tp) => newKeys.has(TopicPartition.key(tp)))
        const addedTps = assignment.filter((tp) => !before.ownedKeys.has(TopicPartition.key(tp)))
        yield* update((b) => ({ ...b, generation: next }))
        const committed =
          addedTps.length === 0
            ? []
            : yield* atCoordinatorRetried((c) => coordinatorPort.offsetFetch({ groupId, coordinator: c, partitions: addedTps }))
        const byKey = new Map(committed.map((c) => [TopicPartition.key(c), c.offset]))
        const added = addedTps.map((tp) => ({ topic: tp.topic, partition: tp.partition, committed: byKey.get(TopicPartition.key(tp)) }))
        if (cooperative && gone.length > 0) {
          // Only what moves is revoked, after the SyncGroup: stop it, let the user commit, commit.
          yield* handler.suspend(gone)
          yield* safely("onRevoked", listener.onRevoked?.(gone) ?? Effect.void)
          yield* commitBestEffort(gone, "on revoke")
        }
        yield* Effect.uninterruptible(
          Effect.zipRight(
            handler.apply({ generationId: join.generationId, memberId: join.memberId, assigned: assignment, revoked: gone, kept, added }),
            update((b) => {
              const taken = withOwned(b, assignment)
              const floor = new Map(taken.floor)
              for (const a of added) {
                const k = TopicPartition.key(a)
                if (a.committed === undefined) floor.delete(k)
                else floor.set(k, a.committed)
              }
              return { ...taken, floor, ownedIn: next, revoked: false }
            }),
          ),
        )
        yield* setState(
          MemberState.Stable({
            memberId: join.memberId,
            generationId: join.generationId,
            leader: join.leaderId === join.memberId,
            protocol: join.protocolName,
            assignment,
          }),
        )
        yield* Effect.logInfo("Joined group").pipe(
          Effect.annotateLogs({
            memberId: join.memberId,
            generationId: join.generationId,
            leader: join.leaderId === join.memberId,
            assignment: assignment.map(TopicPartition.format).join(","),
          }),
        )
        // Eager: the whole assignment, every time. Cooperative: what was added, when something was.
        if (!cooperative || addedTps.length > 0) {
          yield* safely("onAssigned", listener.onAssigned?.(cooperative ? addedTps : assignment) ?? Effect.void)
        }
        return { revokedSome: gone.length > 0 }
      })

    // ---- heartbeats ----------------------------------------------------------------------------

    const heartbeat = (gen: Generation) => (c: Coordinator) =>
      coordinatorPort.heartbeat({ groupId, coordinator: c, generationId: gen.generationId, memberId: gen.memberId })

    /**
     * Heartbeats every `heartbeatInterval` until the coordinator asks for a rejoin, the member is
     * fenced, or no heartbeat got through for a session timeout.
     */
    const heartbeatLoop = (gen: Generation): Effect.Effect<StableOutcome> =>
      Effect.gen(function* () {
        let lastOk = yield* Clock.currentTimeMillis
        while (true) {
          yield* Effect.sleep(heartbeatInterval)
          const result = yield* Effect.either(
            atCoordinator((c) =>
              heartbeat(gen)(c).pipe(
                Effect.timeoutFail({
                  duration: sessionTimeout,
                  onTimeout: () => new GroupTransportError({ groupId, api: "Heartbeat", reason: "Timeout", retriable: true }),
                }),
              ),
            ),
          )
          const now = yield* Clock.currentTimeMillis
          if (result._tag === "Right") {
            lastOk = now
            continue
          }
          const e = result.left
          if (e._tag === "RebalanceInProgress") return { _tag: "Rejoin", reason: "RebalanceInProgress" } as const
          if (e._tag === "UnknownMemberId") return { _tag: "Rejoin", reason: "UnknownMember" } as const
          if (e._tag === "IllegalGeneration") return { _tag: "Rejoin", reason: "IllegalGeneration" } as const
          if (now - lastOk >= Duration.toMillis(sessionTimeout)) return { _tag: "Rejoin", reason: "SessionTimeout" } as const
          yield* Effect.logWarning("Heartbeat failed").pipe(Effect.annotateLogs({ error: e._tag, message: e.message }))
        }
      })

    /** Keeps the session alive while the member revokes (heartbeats answer REBALANCE_IN_PROGRESS then). */
    const keepAlive = (gen: Generation) =>
      atCoordinator(heartbeat(gen)).pipe(Effect.ignore, Effect.repeat(Schedule.spaced(heartbeatInterval)), Effect.delay(heartbeatInterval))

    /**
     * The leader's watch: when a subscribed topic's partition count differs from the one it
     * assigned with, the group must rebalance. Followers never finish this.
     */
    const watchMetadata = (join: JoinGroupResponse, before: ReadonlyMap<string, number> | undefined): Effect.Effect<StableOutcome> => {
      if (join.leaderId !== join.memberId || before === undefined) return Effect.never
      const check = Effect.gen(function* () {
        const topics = [...before.keys(), ...(yield* read).topics]
        const now = yield* metadata.partitionCounts([...new Set(topics)].sort())
        for (const [topic, n] of now) if (before.get(topic) !== n) return true
        return false
      }).pipe(Effect.catchAll(() => Effect.succeed(false)))
      return check.pipe(
        Effect.delay(metadataMaxAge),
        Effect.repeat({ until: (changed) => changed }),
        Effect.as({ _tag: "Rejoin", reason: "MetadataChanged" } as const),
      )
    }

    // ---- the main loop -------------------------------------------------------------------------

    /** One round: give up what the rejoin asks for, join and sync, take the assignment, stay until a rejoin. */
    const round = (reason: RejoinReason | undefined): Effect.Effect<RejoinReason, StepError> =>
      Effect.gen(function* () {
        if (reason !== undefined) yield* Metric.increment(ConsumerMetrics.tagged(groupMetric(ConsumerMetrics.rebalances), "reason", reason))
        if (reason !== undefined && cooperative && !isLost(reason)) {
          // Cooperative: keep consuming everything through the JoinGroup and SyncGroup.
          const gen = (yield* read).generation
          if (gen !== undefined) yield* setState(MemberState.Rebalancing({ memberId: gen.memberId, generationId: gen.generationId, reason }))
        } else if (reason !== undefined) {
          const gen = (yield* read).generation
          yield* keepingAlive(isLost(reason) ? undefined : gen, revokeAll(reason))
          yield* update((b) => ({
            ...b,
            generation: isLost(reason) ? undefined : b.generation,
            memberId: reason === "UnknownMember" || reason === "SessionTimeout" ? "" : b.memberId,
          }))
        }
        const synced = yield* joinAndSync
        // Heartbeats go on while the offsets are fetched and the listener runs (it may be slow).
        const taken = yield* keepingAlive({ generationId: synced.join.generationId, memberId: synced.join.memberId }, takeAssignment(synced))
        const after = yield* read
        const gen = after.generation
        if (gen === undefined) return "IllegalGeneration" as const
        // Cooperative: what this member gave up goes to its new owner in a second round, now.
        if (cooperative && taken.revokedSome) return "CooperativeRevoke" as const
        const outcome = yield* Effect.raceAll([
          heartbeatLoop(gen),
          Effect.map(Queue.take(rejoinRequests), (r): StableOutcome => ({ _tag: "Rejoin", reason: r })),
          watchMetadata(synced.join, after.assignedCounts),
        ])
        yield* Effect.logInfo("Rejoining group").pipe(
          Effect.annotateLogs({ reason: outcome.reason, generationId: gen.generationId, memberId: gen.memberId }),
        )
        return outcome.reason
      })

    /**
     * A round that ends with an error the membership handles itself (its retries ran out, or a
     * request outside the join answered it) becomes the next round's rejoin, so only what the member
     * cannot get past leaves the loop.
     */
    const handled = (e: RejoinError | CoordinatorError) =>
      Effect.gen(function* () {
        if (e._tag === "MemberIdRequired") yield* update((b) => ({ ...b, memberId: e.memberId }))
        if (isCoordinatorError(e)) yield* forgetCoordinator
        const reason = rejoinReason(e)
        yield* Effect.logInfo("Rejoining group").pipe(Effect.annotateLogs({ reason, error: e._tag, message: e.message }))
        return reason
      })

    const step = (reason: RejoinReason | undefined): Effect.Effect<RejoinReason, FatalGroupError> =>
      round(reason).pipe(
        Effect.catchTags({
          RebalanceInProgress: handled,
          UnknownMemberId: handled,
          IllegalGeneration: handled,
          MemberIdRequired: handled,
          NotCoordinator: handled,
          CoordinatorNotAvailable: handled,
        }),
      )

    const loop = (reason: RejoinReason | undefined): Effect.Effect<never, FatalGroupError> => Effect.flatMap(step(reason), loop)

    const runLoop = loop(undefined).pipe(
      Effect.tapError((e) =>
        Effect.logError("Group membership failed").pipe(Effect.annotateLogs({ error: e._tag, message: e.message })),
      ),
      Effect.catchAll((e) => Deferred.fail(failed, e)),
      annotate,
    )

    const autoCommitLoop = Effect.gen(function* () {
      const b = yield* read
      const state = yield* SubscriptionRef.get(stateRef)
      if (b.generation === undefined || state._tag !== "Stable") return
      yield* commitProcessed(b.owned).pipe(
        Effect.catchAll((e) => Effect.logWarning("Auto-commit failed").pipe(Effect.annotateLogs({ error: e._tag, message: e.message }))),
      )
    }).pipe(Effect.repeat(Schedule.spaced(autoCommitInterval)), Effect.delay(autoCommitInterval), annotate)

    /** Closing: commit what was processed, leave the group, hand the partitions back. */
    const leave = Effect.gen(function* () {
      const b = yield* read
      const partitions = b.owned
      if (b.generation !== undefined && partitions.length > 0) {
        // In the middle of a rebalance the partitions are already suspended and revoked.
        if (!b.revoked) {
          yield* handler.suspend(partitions)
          yield* safely("onRevoked", listener.onRevoked?.(partitions) ?? Effect.void)
        }
        yield* commitBestEffort(partitions, "on close")
      }
      // A member the coordinator never gave an id has nothing to leave.
      if (b.memberId !== "") {
        const memberId = b.memberId
        yield* atCoordinator((c) => coordinatorPort.leaveGroup({ groupId, coordinator: c, memberId })).pipe(
          Effect.timeout(sessionTimeout),
          Effect.matchEffect({
            onSuccess: () => Effect.logInfo("Left group").pipe(Effect.annotateLogs({ memberId })),
            onFailure: (e) =>
              Effect.logWarning("LeaveGroup failed; the coordinator drops the member when its session times out").pipe(
                Effect.annotateLogs({ memberId, error: e._tag, message: e.message }),
              ),
          }),
        )
      }
      if (partitions.length > 0) {
        yield* handler.apply({ generationId: -1, memberId: b.memberId, assigned: [], revoked: partitions, kept: [], added: [] })
      }
      yield* update((b) => ({ ...withOwned(b, []), ownedIn: undefined, generation: undefined, memberId: "" }))
      yield* setState(MemberState.Left())
    }).pipe(annotate)

    // Finalizers run in reverse order: the fibers forked below stop before the member leaves.
    yield* Effect.addFinalizer(() => leave)
    // Interruptible even when the membership is made inside an uninterruptible region.
    yield* Effect.forkScoped(Effect.interruptible(runLoop))
    if (autoCommit) yield* Effect.forkScoped(Effect.interruptible(autoCommitLoop))

    const awaitStable = (after = Number.NEGATIVE_INFINITY) =>
      stateRef.changes.pipe(
        Stream.filter((s): s is Extract<MemberState, { _tag: "Stable" }> => s._tag === "Stable" && s.generationId > after),
        Stream.runHead,
        Effect.flatMap(Effect.orDie),
      )

    const markProcessed = (records: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>) =>
      update((b) => {
        let processed: Map<string, bigint> | undefined
        for (let i = 0; i < records.length; i++) {
          const r = records[i]
          const k = TopicPartition.key(r)
          if (!b.ownedKeys.has(k)) continue
          const floor = b.floor.get(k)
          if (floor !== undefined && r.offset < floor) continue
          processed ??= new Map(b.processed)
          processed.set(k, r.offset + 1n)
        }
        return processed === undefined ? b : { ...b, processed }
      })

    const markDelivered = (records: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>) =>
      update((b) => {
        let floor: Map<string, bigint> | undefined
        for (let i = 0; i < records.length; i++) {
          const r = records[i]
          const previous = i > 0 ? records[i - 1] : undefined
          // A run of one partition's records is in offset order: its first record is its lowest.
          if (previous !== undefined && previous.partition === r.partition && previous.topic === r.topic) continue
          const k = TopicPartition.key(r)
          if (!b.ownedKeys.has(k)) continue
          const f = (floor ?? b.floor).get(k)
          if (f !== undefined && f <= r.offset) continue
          floor ??= new Map(b.floor)
          floor.set(k, r.offset)
        }
        return floor === undefined ? b : { ...b, floor }
      })

    return {
      groupId,
      state: SubscriptionRef.get(stateRef),
      states: stateRef.changes,
      assignment: Effect.map(read, (b) => b.owned),
      awaitStable,
      markProcessed,
      markDelivered,
      commit: Effect.fn("GroupMembership.commit")(function* (offsets?: ReadonlyArray<OffsetToCommit>) {
        if (offsets === undefined) return yield* commitProcessed((yield* read).owned)
        yield* commitOffsets(offsets)
        yield* update((b) => {
          const processed = new Map(b.processed)
          for (const o of offsets) {
            const k = TopicPartition.key(o)
            if (b.ownedKeys.has(k)) processed.set(k, o.offset)
          }
          return { ...b, processed }
        })
      }),
      committed: Effect.fn("GroupMembership.committed")(function* (partitions: ReadonlyArray<TP>) {
        return yield* atCoordinatorRetried((c) => coordinatorPort.offsetFetch({ groupId, coordinator: c, partitions }))
      }),
      subscribe: Effect.fn("GroupMembership.subscribe")(function* (topics: ReadonlyArray<string>) {
        yield* update((b) => ({ ...b, topics: [...new Set(topics)] }))
        yield* Queue.offer(rejoinRequests, "SubscriptionChanged")
      }),
      failure: Deferred.await(failed),
    } satisfies Membership
  })
