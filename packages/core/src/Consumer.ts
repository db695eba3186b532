/**
 * The consumer: manual assignment, pause/resume, lazy seeks, and the fetch loop as a `Stream` of
 * records. Out-of-range answers are healed by an `OffsetRecovery`; its type shows in the stream's
 * error channel (`Service<never>` heals, `Service<OffsetOutOfRange>` hands the error on).
 *
 * While the stream runs, one fetch loop per broker (leader) fetches ahead into a buffer bounded by
 * `fetchBufferBytes`: the next fetch to a broker goes out as soon as its previous answer is
 * buffered and the budget has room, and a broker with nothing to send long-polls without holding
 * the others back. A seek, pause, resume, revoke or reset bumps the partition's epoch: what is
 * buffered or in flight for it is dropped, so no record from before a seek is delivered after it.
 * `position` is the delivered position; when the stream ends, what was buffered and not delivered
 * is given up and fetched again by the next run.
 *
 * @since 0.1.0
 */
import {
  Chunk,
  type Config,
  type ConfigError,
  Context,
  Deferred,
  Duration,
  Effect,
  Layer,
  Metric,
  Option,
  PubSub,
  type Queue,
  Schedule,
  type Scope,
  Stream,
} from "effect"
import * as ConsumerConfig from "./ConsumerConfig.js"
import { OffsetReset, type ConsumerEvent } from "./ConsumerEvent.js"
import * as ConsumerMetrics from "./ConsumerMetrics.js"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import { Fetcher } from "./Fetcher.js"
import * as FetchBuffer from "./internal/fetchBuffer.js"
import * as FetchLoop from "./internal/fetchLoop.js"
import {
  type BrokerError,
  ConsumerClosed,
  type CorruptRecordBatch,
  type FetchFailure,
  type InvalidConfig,
  InvalidOffset,
  InvalidTopicPartition,
  ListOffsetsError,
  type ListOffsetsFailure,
  NoOffsetForPartition,
  type OffsetOutOfRange,
  type OffsetRecoveryExhausted,
  type PartitionNotAssigned,
  type TopicAuthorizationFailed,
  type UnknownTopicOrPartition,
} from "./KafkaError.js"
import { OffsetLister } from "./OffsetLister.js"
import * as OffsetRecovery from "./OffsetRecovery.js"
import type { ListOffsetsSpec } from "./OffsetSpec.js"
import * as SubscriptionState from "./SubscriptionState.js"
import * as TopicPartition from "./TopicPartition.js"

type TP = TopicPartition.TopicPartition

/**
 * What the record stream can fail with, whatever the recovery policy.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConsumerError =
  | FetchFailure
  | ListOffsetsFailure
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | CorruptRecordBatch
  | OffsetRecoveryExhausted
  | NoOffsetForPartition
  | ConsumerClosed

/**
 * What `position` can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type PositionError = PartitionNotAssigned | ListOffsetsFailure | NoOffsetForPartition | InvalidTopicPartition | ConsumerClosed

/**
 * What a call naming partitions can fail with before it does anything: a bad partition, or a closed consumer.
 *
 * @since 0.1.0
 * @category errors
 */
export type CallError = InvalidTopicPartition | ConsumerClosed

/**
 * Retries of a whole failed Fetch request while nothing at all can be fetched (every broker's
 * loop failing, e.g. the cluster is down); only retriable `FetchError`s reach it. When it ends,
 * the stream fails with the `FetchError`. A broker that fails while others answer (a leader gone
 * during failover, a broker refusing connections) is not bounded by it: its loop retries with a
 * backoff from `retryBackoff` doubling to 2 s, and the metadata is looked up again so its
 * partitions move to their new leader.
 *
 * @since 0.1.0
 * @category models
 */
export type FetchRetry = Schedule.Schedule<unknown, FetchFailure>

/**
 * Exponential from 100ms, doubling, jittered, each delay capped at 5s, at most 10 retries (about
 * 25 s of a cluster that cannot be reached before the stream fails).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFetchRetry: FetchRetry = Schedule.exponential("100 millis", 2).pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
  Schedule.intersect(Schedule.recurs(10)),
)

/**
 * A consumer whose record stream can also fail with `E`: `never` under a healing recovery,
 * `OffsetOutOfRange` under `OffsetRecovery.fail()`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service<E = never> {
  readonly config: ConsumerConfig.ConsumerConfig
  readonly recoveryPolicy: OffsetRecovery.Policy
  /** The subscription state, for group membership to drive (assign, add, revoke with committed offsets). */
  readonly state: SubscriptionState.SubscriptionState
  /** Replaces the assignment (manual assignment, like the Java client's `assign`). */
  readonly assign: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, CallError>
  readonly assignment: Effect.Effect<ReadonlyArray<TP>, ConsumerClosed>
  readonly pause: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned | CallError>
  readonly resume: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned | CallError>
  readonly paused: Effect.Effect<ReadonlyArray<TP>, ConsumerClosed>
  /**
   * The next fetch of `tp` starts at `offset` (a bigint >= 0n, else `InvalidOffset`). Before the
   * first assignment, kept until `tp` is assigned.
   */
  readonly seek: (tp: TP, offset: bigint) => Effect.Effect<void, PartitionNotAssigned | InvalidOffset | CallError>
  /** Lazy: the next fetch (or `position`) resolves it, with one ListOffsets for all the partitions. */
  readonly seekToBeginning: (partitions?: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned | CallError>
  readonly seekToEnd: (partitions?: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned | CallError>
  /**
   * The delivered position: the offset of the next record the stream hands downstream (records
   * fetched ahead and still buffered do not count); resolves a pending seek on demand.
   */
  readonly position: (tp: TP) => Effect.Effect<bigint, PositionError>
  /**
   * The records, in chunks as fetched (one chunk per partition of a fetch answer). Run one at a time (a second
   * run waits for the first). Each run fetches ahead into its own buffer; what it buffered and did
   * not deliver is fetched again by the next run, so nothing is delivered twice.
   */
  readonly records: Stream.Stream<ConsumerRecord, ConsumerError | E>
  /** Each fetched batch as one non-empty chunk. */
  readonly chunks: Stream.Stream<Chunk.Chunk<ConsumerRecord>, ConsumerError | E>
  /** Events from the moment the stream is run. */
  readonly events: Stream.Stream<ConsumerEvent, ConsumerClosed>
  /** A queue subscribed to events when this returns (nothing between subscribing and reading is lost). */
  readonly subscribeEvents: Effect.Effect<Queue.Dequeue<ConsumerEvent>, ConsumerClosed, Scope.Scope>
}

/**
 * The consumer service under a healing recovery: its stream has no `OffsetOutOfRange`.
 *
 * @since 0.1.0
 * @category services
 */
export class Consumer extends Context.Tag("@kafka-effect/core/Consumer")<Consumer, Service<never>>() {}

/**
 * The options of `make`: the settings (validated at start), a recovery that overrides the
 * `OffsetRecovery` service and setting, and the retry of whole failed fetches (`defaultFetchRetry`
 * when not given).
 *
 * @since 0.1.0
 * @category options
 */
export interface MakeOptions<E> {
  /** Validated at start; a wrong value fails with `InvalidConfig`. */
  readonly config?: ConsumerConfig.Input
  /** Overrides the `OffsetRecovery` service and the `offsetRecovery` setting. */
  readonly recovery?: OffsetRecovery.Recovery<E>
  readonly fetchRetry?: FetchRetry
}

/**
 * Builds a consumer over the `Fetcher` and `OffsetLister` in context. The recovery is, in order:
 * `options.recovery`, the `OffsetRecovery` service, the `offsetRecovery` setting.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = never>(
  options: MakeOptions<E> = {},
): Effect.Effect<Service<E>, InvalidConfig, Scope.Scope | Fetcher | OffsetLister> =>
  makeFromInput(options.config ?? {}, options)

const makeFromInput = <E>(
  input: unknown,
  options: Omit<MakeOptions<E>, "config">,
): Effect.Effect<Service<E>, InvalidConfig, Scope.Scope | Fetcher | OffsetLister> =>
  Effect.gen(function* () {
    const config = yield* ConsumerConfig.decode(input)
    const fetcher = yield* Fetcher
    const lister = yield* OffsetLister
    const provided = yield* Effect.serviceOption(OffsetRecovery.OffsetRecovery)
    const recovery: OffsetRecovery.Recovery<E> =
      options.recovery ?? Option.getOrElse(provided, () => OffsetRecovery.make(config.offsetRecovery))
    const maxAttempts = recovery.maxAttempts ?? config.maxRecoveryAttempts
    const fetchRetry = options.fetchRetry ?? defaultFetchRetry
    const state = yield* SubscriptionState.make({ autoOffsetReset: config.autoOffsetReset })
    const events = yield* Effect.acquireRelease(PubSub.unbounded<ConsumerEvent>(), PubSub.shutdown)
    const running = yield* Effect.makeSemaphore(1)
    // Used after its scope closed, the consumer fails with ConsumerClosed; a running stream stops so
    // (at its next pull; one waiting for an answer is woken through its buffer).
    let isClosed = false
    const closing = yield* Deferred.make<void>()
    let runningBuffer: FetchBuffer.FetchBuffer<ConsumerError | E> | undefined
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Effect.suspend(() => {
          isClosed = true
          return runningBuffer === undefined ? Effect.void : runningBuffer.offer({ _tag: "Closed" }, 0)
        }),
        Deferred.succeed(closing, undefined),
      ),
    )
    const isPartition = (tp: TP): boolean =>
      typeof tp === "object" && tp !== null && typeof tp.topic === "string" && tp.topic.length > 0 &&
      Number.isSafeInteger(tp.partition) && tp.partition >= 0
    const open = (operation: string): Effect.Effect<void, ConsumerClosed> =>
      Effect.suspend(() => (isClosed ? Effect.fail(new ConsumerClosed({ operation })) : Effect.void))
    /** The entry check of a call naming partitions: the consumer is open and every partition named is one. */
    const entry = (operation: string, partitions: ReadonlyArray<TP> = []): Effect.Effect<void, CallError> =>
      Effect.zipRight(
        open(operation),
        Effect.suspend(() => {
          const bad = partitions.find((tp) => !isPartition(tp))
          return bad === undefined
            ? Effect.void
            : Effect.fail(new InvalidTopicPartition({ operation, topic: bad?.topic, partition: bad?.partition }))
        }),
      )
    const whileOpen = <A, E1>(operation: string, stream: Stream.Stream<A, E1>): Stream.Stream<A, E1 | ConsumerClosed> =>
      Stream.unwrap(Effect.as(open(operation), stream)).pipe(
        Stream.interruptWhen(Effect.zipRight(Deferred.await(closing), Effect.fail(new ConsumerClosed({ operation })))),
      )
    const withLister = Effect.provideService(OffsetLister, lister)

    /**
     * Resolves the pending resets of every fetchable partition (and of `also`, even when paused), like
     * the Java client: one ListOffsets per spec over all of them, the two specs in parallel. A
     * partition with nothing to start from fails with `NoOffsetForPartition` if it is fetchable or `also`.
     */
    const resolvePending = (also?: TP) =>
      Effect.gen(function* () {
        const fetchable = yield* state.pendingResets()
        const extra = also === undefined ? [] : yield* state.pendingResets([also])
        const pending = [...fetchable, ...extra.filter((e) => !fetchable.some((f) => TopicPartition.equals(f, e)))]
        if (pending.length === 0) return
        const bySpec = new Map<ListOffsetsSpec, Array<SubscriptionState.PendingPosition>>()
        for (const p of pending) {
          if (p.spec === "none") {
            if (also !== undefined && !TopicPartition.equals(p, also)) continue
            return yield* new NoOffsetForPartition({ topic: p.topic, partition: p.partition })
          }
          const list = bySpec.get(p.spec)
          if (list) list.push(p)
          else bySpec.set(p.spec, [p])
        }
        const answers = yield* Effect.forEach(
          bySpec,
          ([spec, ps]) =>
            OffsetRecovery.listWithRetry(SubscriptionState.toTopicPartitions(ps), spec, recovery.listOffsetsRetry).pipe(
              Effect.map((offsets) => {
                const byKey = new Map<string, bigint>()
                for (const o of offsets) byKey.set(TopicPartition.key(o), o.offset)
                return ps.flatMap((pending) => {
                  const offset = byKey.get(TopicPartition.key(pending))
                  return offset === undefined ? [] : [{ pending, offset }]
                })
              }),
            ),
          { concurrency: "unbounded" },
        )
        yield* state.completeResets(answers.flat())
      }).pipe(withLister)

    const report = (decision: Extract<OffsetRecovery.Decision, { _tag: "Reset" }>) => {
      const { position, requestedOffset, earliest, latest, newOffset, skipped } = decision
      const event = new OffsetReset({
        topic: position.topic,
        partition: position.partition,
        requestedOffset,
        earliest,
        latest,
        newOffset,
        skipped,
        policy: recovery.policy,
      })
      return Effect.all(
        [
          Effect.logWarning(OffsetRecovery.describeReset(event)).pipe(
            Effect.annotateLogs({
              topic: position.topic,
              partition: position.partition,
              requestedOffset: String(requestedOffset),
              earliest: String(earliest),
              latest: String(latest),
              newOffset: String(newOffset),
              skipped: String(skipped),
              policy: recovery.policy,
            }),
          ),
          PubSub.publish(events, event),
          Metric.increment(ConsumerMetrics.forTopic(ConsumerMetrics.offsetResets, position.topic)),
          Metric.incrementBy(ConsumerMetrics.forTopic(ConsumerMetrics.offsetsSkipped, position.topic), skipped),
        ],
        { discard: true },
      )
    }

    const recover = (outOfRange: ReadonlyArray<{ position: SubscriptionState.FetchPosition; error: OffsetOutOfRange }>) =>
      Effect.gen(function* () {
        const partitions = yield* state.partitions
        const attempts = new Map(partitions.map((p) => [TopicPartition.key(p), p.recoveryAttempts]))
        const decisions = yield* recovery
          .recover(
            outOfRange.map((o) => ({ ...o, previousAttempts: attempts.get(TopicPartition.key(o.position)) ?? 0 })),
            maxAttempts,
          )
          .pipe(withLister)
        // A partition with records still buffered moves its delivered position when they are delivered.
        const jumps: Array<SubscriptionState.Segment> = []
        for (const decision of decisions) {
          if (decision._tag === "Reset") {
            const outcome = yield* state.resetPosition(decision.position, decision.newOffset)
            if (outcome !== "Stale") yield* report(decision)
            if (outcome === "Queued") {
              const { topic, partition, epoch, offset } = decision.position
              jumps.push({ topic, partition, epoch, from: offset, next: decision.newOffset, records: [], bytes: 0 })
            }
          } else {
            yield* state.countRecoveryAttempt(decision.position)
          }
        }
        return jumps
      })

    // Tagged metrics built once per topic, updated once per delivered chunk (per partition segment).
    const topicMetrics = new Map<string, { records: Metric.Metric.Counter<number>; bytes: Metric.Metric.Counter<number> }>()
    const metricsOf = (topic: string) => {
      let m = topicMetrics.get(topic)
      if (m === undefined) {
        m = {
          records: ConsumerMetrics.forTopic(ConsumerMetrics.records, topic),
          bytes: ConsumerMetrics.forTopic(ConsumerMetrics.bytes, topic),
        }
        topicMetrics.set(topic, m)
      }
      return m
    }
    const countDelivered = (topic: string, records: number, bytes: number) => {
      const m = metricsOf(topic)
      return Effect.zipRight(Metric.incrementBy(m.records, records), Metric.incrementBy(m.bytes, bytes))
    }

    /**
     * The chunks of one run: each buffered answer is handed out one partition's segment at a time
     * (a stale segment dropped when its turn comes, the delivered position moved as it is handed
     * out), a failure raised in order. Between two segments of one answer the stream yields, so the
     * fetch loops get their turn (the next fetch goes out) while the user works through an answer.
     */
    const chunksOf = (
      buffer: FetchBuffer.FetchBuffer<ConsumerError | E>,
      operation: string,
    ): Effect.Effect<Chunk.Chunk<ConsumerRecord>, ConsumerError | E> => {
      let pending: ReadonlyArray<SubscriptionState.Segment> = []
      let at = 0
      /** A corrupt batch found after records that were handed out with it: the next pull fails. */
      let failNext: CorruptRecordBatch | undefined
      const emit = (segment: SubscriptionState.Segment, records: ReadonlyArray<ConsumerRecord>, bytes: number) =>
        records.length === 0 ? next : Effect.as(countDelivered(segment.topic, records.length, bytes), Chunk.unsafeFromArray(records))
      const handOut = (segment: SubscriptionState.Segment): Effect.Effect<Chunk.Chunk<ConsumerRecord>, ConsumerError | E> => {
        // Deferred records are decoded now, just before they are delivered (`FetchRequest.deferDecoding`).
        const decoded = segment.deferred?.decode()
        const records = decoded === undefined ? segment.records : decoded.records
        const bytes = decoded === undefined ? segment.bytes : decoded.bytes
        const corrupt = decoded?.corrupt
        // A batch that failed to decode: the records before it are delivered (the position stops at
        // that batch) and the stream fails with the error, as when a fetch answers with a corrupt
        // first batch; the run's end puts the fetch positions back, so the next run fetches that
        // batch again (and fails the same way until the application seeks past it).
        const handed = corrupt === undefined ? segment : { ...segment, next: corrupt.offset }
        return Effect.flatMap(state.deliver([handed]), (delivered) => {
          if (delivered.length === 0) return next
          if (corrupt !== undefined) {
            if (records.length === 0) return Effect.fail(corrupt)
            failNext = corrupt
          }
          return emit(segment, records, bytes)
        })
      }
      const next: Effect.Effect<Chunk.Chunk<ConsumerRecord>, ConsumerError | E> = Effect.suspend(() => {
        if (isClosed) return Effect.fail(new ConsumerClosed({ operation }))
        if (failNext !== undefined) {
          const error = failNext
          failNext = undefined
          return Effect.fail(error)
        }
        if (at < pending.length) {
          const first = at === 0
          const segment = pending[at++]!
          // The answer is let go with its last segment (not kept until the next one comes).
          if (at === pending.length) {
            pending = []
            at = 0
          }
          // (Decoded after the yield: the fetch loops send their next fetches first.)
          return first ? handOut(segment) : Effect.zipRight(Effect.yieldNow(), Effect.suspend(() => handOut(segment)))
        }
        return Effect.flatMap(buffer.take, (entry) => {
          if (entry._tag === "Failure") return Effect.failCause(entry.cause)
          if (entry._tag === "Closed") return Effect.fail(new ConsumerClosed({ operation }))
          pending = entry.segments
          at = 0
          return next
        })
      })
      return next
    }

    const fetchBufferBytes = config.fetchBufferBytes ?? 2 * config.maxBytes

    /**
     * One run of the stream: a buffer, the fetch loops in the run's scope, and the chunks taken from
     * the buffer. When the run ends, what was buffered and not delivered is given up (the fetch
     * positions go back to the delivered ones).
     */
    const run = (operation: string): Stream.Stream<Chunk.Chunk<ConsumerRecord>, ConsumerError | E> => Stream.unwrapScoped(
      Effect.gen(function* () {
        yield* Effect.acquireRelease(running.take(1), () => running.release(1))
        yield* Effect.addFinalizer(() => state.rewind)
        const buffer = yield* FetchBuffer.make<ConsumerError | E>(fetchBufferBytes)
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            runningBuffer = buffer
          }),
          () =>
            Effect.sync(() => {
              runningBuffer = undefined
            }),
        )
        yield* FetchLoop.run<ConsumerError | E>({
          state,
          fetcher,
          config,
          buffer,
          fetchRetry,
          resolvePending: resolvePending(),
          recover,
          fetchFailure: (error) => error,
        })
        return Stream.repeatEffect(chunksOf(buffer, operation))
      }),
    ).pipe(Stream.withSpan("Consumer.consume"))

    // Not `Stream.interruptWhen` (as `events` is): it forks a fiber for every pull, whose exit keeps
    // the chunk before the current one alive. A run checks `isClosed` at each pull instead.
    const opened = <A>(operation: string, stream: Stream.Stream<A, ConsumerError | E>): Stream.Stream<A, ConsumerError | E> =>
      Stream.unwrap(Effect.as(open(operation), stream))
    const chunks = opened("chunks", run("chunks"))
    const records = opened("records", Stream.flattenChunks(run("records")))

    const seekReset = (spec: ListOffsetsSpec) => (partitions?: ReadonlyArray<TP>) => state.requestReset(spec, partitions)

    const service: Service<E> = {
      config,
      recoveryPolicy: recovery.policy,
      state,
      assign: Effect.fn("Consumer.assign")(function* (partitions: ReadonlyArray<TP>) {
        yield* entry("assign", partitions)
        yield* state.assign(partitions)
      }),
      assignment: Effect.zipRight(open("assignment"), state.assignment),
      pause: Effect.fn("Consumer.pause")(function* (partitions: ReadonlyArray<TP>) {
        yield* entry("pause", partitions)
        yield* state.pause(partitions)
      }),
      resume: Effect.fn("Consumer.resume")(function* (partitions: ReadonlyArray<TP>) {
        yield* entry("resume", partitions)
        yield* state.resume(partitions)
      }),
      paused: Effect.zipRight(open("paused"), state.paused),
      seek: Effect.fn("Consumer.seek")(function* (tp: TP, offset: bigint) {
        yield* entry("seek", [tp])
        if (typeof offset !== "bigint" || offset < 0n) {
          return yield* new InvalidOffset({ topic: tp.topic, partition: tp.partition, offset })
        }
        yield* state.seek(tp, offset)
      }),
      seekToBeginning: Effect.fn("Consumer.seekToBeginning")(function* (partitions?: ReadonlyArray<TP>) {
        yield* entry("seekToBeginning", partitions)
        yield* seekReset("earliest")(partitions)
      }),
      seekToEnd: Effect.fn("Consumer.seekToEnd")(function* (partitions?: ReadonlyArray<TP>) {
        yield* entry("seekToEnd", partitions)
        yield* seekReset("latest")(partitions)
      }),
      position: Effect.fn("Consumer.position")(function* (tp: TP) {
        yield* entry("position", [tp])
        // A seek can land between resolving and reading: then resolve again (a few times at most).
        for (let attempt = 0; ; attempt++) {
          const p = yield* state.get(tp)
          if (p.position !== undefined) return p.position
          if (attempt === 3) {
            return yield* new ListOffsetsError({ partitions: [tp], reason: "Unknown", retriable: false })
          }
          yield* resolvePending(tp)
        }
      }),
      records,
      chunks,
      events: whileOpen("events", Stream.fromPubSub(events)),
      subscribeEvents: Effect.zipRight(open("subscribeEvents"), PubSub.subscribe(events)),
    }
    return service
  })

/**
 * The `Consumer` service (healing recovery) as a layer.
 *
 * @example
 * import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
 * import { TestKit } from "@kafka-effect/testkit"
 * import { Chunk, Effect, Layer, Stream } from "effect"
 *
 * // A consumer over the testkit's in-memory broker (no socket opened); over a real cluster,
 * // provide `KafkaClient.layer` from @kafka-effect/kafka instead.
 * const kit = Consumer.layer().pipe(Layer.provideMerge(TestKit.layer({ topics: { orders: 1 } })))
 *
 * const program = Effect.gen(function* () {
 *   yield* TestKit.produce("orders", 0, ["a", "b", "c"])
 *   const consumer = yield* Consumer.Consumer
 *   const tp = TopicPartition.make("orders", 0)
 *   yield* consumer.assign([tp])
 *   yield* consumer.seek(tp, 1n) // the next fetch starts at offset 1
 *   const records = yield* consumer.records.pipe(Stream.take(2), Stream.runCollect)
 *   assert.deepStrictEqual(Chunk.toReadonlyArray(records).map((r) => ConsumerRecord.utf8(r.value)), ["b", "c"])
 *   // the delivered position: the offset of the next record the stream hands downstream
 *   assert.strictEqual(yield* consumer.position(tp), 3n)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(kit)))
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Omit<MakeOptions<never>, "recovery"> & { readonly recovery?: OffsetRecovery.Recovery<never> } = {},
): Layer.Layer<Consumer, InvalidConfig, Fetcher | OffsetLister> => Layer.scoped(Consumer, make(options))

/**
 * The `Consumer` service with its settings read from a `Config` (by default `ConsumerConfig.config`,
 * the field names as keys). Validation failures are `InvalidConfig`, naming field and value.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<unknown> = ConsumerConfig.config,
  options: Omit<MakeOptions<never>, "config" | "recovery"> & { readonly recovery?: OffsetRecovery.Recovery<never> } = {},
): Layer.Layer<Consumer, InvalidConfig | ConfigError.ConfigError, Fetcher | OffsetLister> =>
  Layer.scoped(
    Consumer,
    Effect.flatMap(config, (input) => makeFromInput<never>(input, options)),
  )
