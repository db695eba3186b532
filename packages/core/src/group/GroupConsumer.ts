/**
 * `subscribe(topics)`: a `Consumer` driven by group membership. The group decides the assignment
 * and where new partitions start (the committed offset, else a seek made before the assignment,
 * else `autoOffsetReset`); the consumer's `SubscriptionState` takes them. During a rebalance the
 * owned partitions are paused (fetches in flight for them are dropped), `onRevoked` runs and what
 * was processed is committed; afterwards revoked partitions go with their pending seeks, kept ones
 * resume with their positions and pending seeks.
 *
 * Processed means: a chunk handed downstream counts as processed when the stream is pulled again
 * (the next chunk is asked for), or when the user says so with `markProcessed` (do that for the
 * last chunk before stopping: an ended or interrupted stream does not prove its last chunk done).
 * Auto-commit commits what was processed on an interval;
 * `commit` / `commitRecord` commit on demand; closing the scope commits it and leaves the group.
 *
 * @since 0.1.0
 */
import { Chunk, Effect, Option, Ref, type Scope, Stream } from "effect"
import type * as Consumer from "../Consumer.js"
import * as ConsumerMetrics from "../ConsumerMetrics.js"
import type { ConsumerRecord } from "../ConsumerRecord.js"
import type { InvalidConfig } from "../KafkaError.js"
import * as TopicPartition from "../TopicPartition.js"
import type { GroupCoordinator, OffsetToCommit, TopicMetadata } from "./GroupCoordinator.js"
import * as GroupConfig from "./GroupConfig.js"
import type { GroupFailure } from "./GroupError.js"
import * as GroupMembership from "./GroupMembership.js"

type TP = TopicPartition.TopicPartition

/**
 * Options of `subscribe`: the group's options without the topics, which `subscribe` takes itself.
 *
 * @since 0.1.0
 * @category options
 */
export type SubscribeOptions = Omit<GroupMembership.GroupOptions, "topics">

/**
 * A running group subscription: the membership, the records (one at a time or in chunks) of the
 * partitions assigned to this member, and committing what was processed.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupSubscription<E = never> {
  readonly membership: GroupMembership.Membership
  /**
   * The records of the partitions the group gives this member. Fails with the consumer's errors or
   * with a `FatalGroupError`, one the membership cannot get past (`GroupAuthorizationFailed`,
   * `InconsistentGroupProtocol`, `GroupTransportError`, `TopicAuthorizationFailed`,
   * `UnknownTopicOrPartition`, `BrokerError`, `CorruptResponse`, `UnsupportedAssignor`,
   * `MemberProtocolError`). Rebalances, fencing and a moving coordinator never reach it: the
   * membership rejoins or finds the coordinator again itself.
   */
  readonly records: Stream.Stream<ConsumerRecord, Consumer.ConsumerError | E | GroupMembership.FatalGroupError>
  /** The same, one chunk per fetched batch; the same errors. */
  readonly chunks: Stream.Stream<Chunk.Chunk<ConsumerRecord>, Consumer.ConsumerError | E | GroupMembership.FatalGroupError>
  /** Commits what was processed (no argument) or the given next offsets. */
  readonly commit: (offsets?: ReadonlyArray<OffsetToCommit>) => Effect.Effect<void, GroupFailure>
  /**
   * Marks records processed now, without waiting for the next pull (e.g. at the end of a handler
   * that may be interrupted before it pulls again). Committed by the next auto-commit or on close.
   */
  readonly markProcessed: (records: ReadonlyArray<ConsumerRecord<unknown, unknown>>) => Effect.Effect<void>
  /** Commits `record.offset + 1` for the record's partition. */
  readonly commitRecord: (record: ConsumerRecord<unknown, unknown>) => Effect.Effect<void, GroupFailure>
  readonly assignment: Effect.Effect<ReadonlyArray<TP>>
}

/**
 * The `GroupHandler` that drives a consumer's subscription state: suspending pauses the partitions
 * (only those the user had not paused, so a user's pause outlives the rebalance); applying assigns
 * with the committed offsets and resumes the kept partitions it paused.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handlerFor = <E>(consumer: Consumer.Service<E>): Effect.Effect<GroupMembership.GroupHandler> =>
  Effect.map(Ref.make<ReadonlySet<string>>(new Set()), (pausedByGroup) => ({
    suspend: (partitions) =>
      Effect.gen(function* () {
        const paused = new Set((yield* consumer.state.paused).map(TopicPartition.key))
        const assigned = new Set((yield* consumer.state.assignment).map(TopicPartition.key))
        const toPause = partitions.filter((tp) => assigned.has(TopicPartition.key(tp)) && !paused.has(TopicPartition.key(tp)))
        yield* Ref.update(pausedByGroup, (keys) => new Set([...keys, ...toPause.map(TopicPartition.key)]))
        yield* Effect.ignore(consumer.state.pause(toPause))
      }),
    apply: (change) =>
      Effect.gen(function* () {
        const committed = new Map<string, bigint>()
        for (const a of change.added) if (a.committed !== undefined) committed.set(TopicPartition.key(a), a.committed)
        yield* consumer.state.assign(change.assigned, committed)
        const ours = yield* Ref.getAndSet(pausedByGroup, new Set())
        yield* Effect.ignore(consumer.state.resume(change.kept.filter((tp) => ours.has(TopicPartition.key(tp)))))
      }),
  }))

/**
 * Joins `options.groupId` with `topics`; the membership lasts as long as the scope. Bad options
 * fail at once with `InvalidConfig` naming the field and the value.
 *
 * @example
 * import { Consumer, ConsumerRecord, GroupConsumer } from "@kafka-effect/core"
 * import { Console, Effect, Stream } from "effect"
 *
 * // A group member that prints each record and commits what it printed.
 * export const program = Effect.gen(function* () {
 *   const consumer = yield* Consumer.Consumer
 *   const group = yield* GroupConsumer.subscribe(consumer, ["orders"], { groupId: "billing" })
 *   yield* group.records.pipe(
 *     Stream.runForEach((record) =>
 *       Console.log(`${record.partition}@${record.offset} ${ConsumerRecord.utf8(record.value)}`).pipe(
 *         Effect.zipRight(group.markProcessed([record])),
 *       ),
 *     ),
 *   )
 * }).pipe(Effect.scoped) // closing the scope commits what was processed and leaves the group
 *
 * @since 0.1.0
 * @category subscribing
 */
export const subscribe = <E>(
  consumer: Consumer.Service<E>,
  topics: ReadonlyArray<string>,
  options: SubscribeOptions,
): Effect.Effect<GroupSubscription<E>, InvalidConfig, GroupCoordinator | TopicMetadata | Scope.Scope> =>
  Effect.gen(function* () {
    yield* GroupConfig.validate({ ...options, topics })
    const membership = yield* GroupMembership.make({ ...options, topics }, yield* handlerFor(consumer))

    // Each run of the stream has its own previous chunk.
    const tracked = Stream.unwrap(
      Effect.map(Ref.make(Option.none<Chunk.Chunk<ConsumerRecord>>()), (previous) => {
        const markPrevious = Effect.flatMap(
          Ref.getAndSet(previous, Option.none()),
          Option.match({ onNone: () => Effect.void, onSome: (p) => membership.markProcessed(Chunk.toReadonlyArray(p)) }),
        )
        // Only a pull proves the previous chunk done: a stream that ends (`take` may cut a chunk) or
        // is interrupted leaves its last chunk to `markProcessed`, so nothing unprocessed is committed.
        return consumer.chunks.pipe(
          Stream.tap((chunk) =>
            Effect.all([markPrevious, membership.markDelivered(Chunk.toReadonlyArray(chunk)), Ref.set(previous, Option.some(chunk))], {
              discard: true,
            }),
          ),
          Stream.interruptWhen(membership.failure),
          // Records, bytes, lag and resets of this stream carry the group's name.
          ConsumerMetrics.labelled({ groupId: options.groupId }),
        )
      }),
    )

    return {
      membership,
      chunks: tracked,
      records: Stream.flattenChunks(tracked),
      commit: membership.commit,
      markProcessed: membership.markProcessed,
      commitRecord: (record) => membership.commit([{ topic: record.topic, partition: record.partition, offset: record.offset + 1n }]),
      assignment: membership.assignment,
    }
  })
