/**
 * The consumer: manual assignment, pause/resume, lazy seeks, and the fetch loop as a `Stream` of
 * records. Out-of-range answers are healed by an `OffsetRecovery`; its type shows in the stream's
 * error channel (`Service<never>` heals, `Service<OffsetOutOfRange>` hands the error on).
 *
 * The stream is pull-driven: one fetch cycle per pull, nothing is fetched ahead. A seek made between
 * two pulls is seen by the next fetch; one made while a fetch is in flight bumps the partition's
 * epoch and that fetch's answer for it is dropped.
 */
import {
  Chunk,
  type Config,
  type ConfigError,
  Context,
  Duration,
  Effect,
  Layer,
  Metric,
  Option,
  PubSub,
  type Queue,
  Ref,
  Schedule,
  type Scope,
  Stream,
} from "effect"
import * as ConsumerConfig from "./ConsumerConfig.js"
import { OffsetReset, type ConsumerEvent } from "./ConsumerEvent.js"
import * as ConsumerMetrics from "./ConsumerMetrics.js"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import { Fetcher, type FetchRequest } from "./Fetcher.js"
import {
  type BrokerError,
  type FetchFailure,
  type InvalidConfig,
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

/** What the record stream can fail with, whatever the recovery policy. */
export type ConsumerError =
  | FetchFailure
  | ListOffsetsFailure
  | TopicAuthorizationFailed
  | UnknownTopicOrPartition
  | BrokerError
  | OffsetRecoveryExhausted
  | NoOffsetForPartition

/** What `position` can fail with. */
export type PositionError = PartitionNotAssigned | ListOffsetsFailure | NoOffsetForPartition

/** Retries of a whole failed Fetch request; only retriable `FetchError`s reach it. */
export type FetchRetry = Schedule.Schedule<unknown, FetchFailure>

/** Exponential from 100ms, doubling, jittered, each delay capped at 5s, at most 10 retries. */
export const defaultFetchRetry: FetchRetry = Schedule.exponential("100 millis", 2).pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
  Schedule.intersect(Schedule.recurs(10)),
)

/**
 * A consumer whose record stream can also fail with `E`: `never` under a healing recovery,
 * `OffsetOutOfRange` under `OffsetRecovery.fail()`.
 */
export interface Service<E = never> {
  readonly config: ConsumerConfig.ConsumerConfig
  readonly recoveryPolicy: OffsetRecovery.Policy
  /** The subscription state, for group membership to drive (assign, add, revoke with committed offsets). */
  readonly state: SubscriptionState.SubscriptionState
  /** Replaces the assignment (manual assignment, like the Java client's `assign`). */
  readonly assign: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
  readonly assignment: Effect.Effect<ReadonlyArray<TP>>
  readonly pause: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  readonly resume: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  readonly paused: Effect.Effect<ReadonlyArray<TP>>
  /** The next fetch of `tp` starts at `offset`. Before the first assignment, kept until `tp` is assigned. */
  readonly seek: (tp: TP, offset: bigint) => Effect.Effect<void, PartitionNotAssigned>
  /** Lazy: the next fetch (or `position`) resolves it, with one ListOffsets for all the partitions. */
  readonly seekToBeginning: (partitions?: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  readonly seekToEnd: (partitions?: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  /** The offset of the next record to be fetched; resolves a pending seek on demand. */
  readonly position: (tp: TP) => Effect.Effect<bigint, PositionError>
  /** The records, in chunks as fetched. Run one at a time (a second run waits for the first). */
  readonly records: Stream.Stream<ConsumerRecord, ConsumerError | E>
  /** Each fetched batch as one non-empty chunk. */
  readonly chunks: Stream.Stream<Chunk.Chunk<ConsumerRecord>, ConsumerError | E>
  /** Events from the moment the stream is run. */
  readonly events: Stream.Stream<ConsumerEvent>
  /** A queue subscribed to events when this returns (nothing between subscribing and reading is lost). */
  readonly subscribeEvents: Effect.Effect<Queue.Dequeue<ConsumerEvent>, never, Scope.Scope>
}

/** The consumer service under a healing recovery: its stream has no `OffsetOutOfRange`. */
export class Consumer extends Context.Tag("@kafka-effect/core/Consumer")<Consumer, Service<never>>() {}

export interface MakeOptions<E> {
  /** Validated at start; a wrong value fails with `InvalidConfig`. */
  readonly config?: ConsumerConfig.Input
  /** Overrides the `OffsetRecovery` service and the `offsetRecovery` setting. */
  readonly recovery?: OffsetRecovery.Recovery<E>
  readonly fetchRetry?: FetchRetry
}

const isRetriableFetch = (e: FetchFailure): boolean => e._tag === "FetchError" && e.retriable

/** Records and key+value bytes of a chunk per topic; records of one topic come in runs (per partition). */
const countByTopic = (records: Chunk.Chunk<ConsumerRecord>): Array<{ topic: string; records: number; bytes: number }> => {
  const out: Array<{ topic: string; records: number; bytes: number }> = []
  let entry: { topic: string; records: number; bytes: number } | undefined
  for (const r of records) {
    if (entry === undefined || entry.topic !== r.topic) {
      entry = out.find((e) => e.topic === r.topic)
      if (entry === undefined) {
        entry = { topic: r.topic, records: 0, bytes: 0 }
        out.push(entry)
      }
    }
    entry.records++
    entry.bytes += (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0)
  }
  return out
}

/**
 * Builds a consumer over the `Fetcher` and `OffsetLister` in context. The recovery is, in order:
 * `options.recovery`, the `OffsetRecovery` service, the `offsetRecovery` setting.
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
    // A partition error that arrived with records of other partitions: delivered on the next pull.
    const deferred = yield* Ref.make<Option.Option<ConsumerError | E>>(Option.none())

    const withLister = Effect.provideService(OffsetLister, lister)

    /** Resolves pending resets: one ListOffsets per spec over all the partitions, the two in parallel. */
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
          Metric.increment(Metric.tagged(ConsumerMetrics.offsetResets, "topic", position.topic)),
          Metric.incrementBy(Metric.tagged(ConsumerMetrics.offsetsSkipped, "topic", position.topic), skipped),
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
        for (const decision of decisions) {
          if (decision._tag === "Reset") {
            const applied = yield* state.resetPosition(decision.position, decision.newOffset)
            if (applied) yield* report(decision)
          } else {
            yield* state.countRecoveryAttempt(decision.position)
          }
        }
      })

    const request = (positions: ReadonlyArray<SubscriptionState.FetchPosition>): FetchRequest => ({
      partitions: positions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        maxBytes: config.maxPartitionBytes,
      })),
      maxWaitMs: Duration.toMillis(config.maxWait),
      minBytes: config.minBytes,
      maxBytes: config.maxBytes,
      isolationLevel: config.isolationLevel,
    })

    /** Fails now, or, when there are records to deliver first, on the next pull. */
    const failAfter = (records: Chunk.Chunk<ConsumerRecord>, error: ConsumerError | E) =>
      Chunk.isEmpty(records) ? Effect.fail(error) : Effect.as(Ref.set(deferred, Option.some(error)), records)

    /**
     * Leaders whose request failed while others answered (per-partition retriable `FetchError`s):
     * their partitions keep their positions and are fetched again every cycle, with no limit, while
     * the other partitions progress. One warning when a broker's outage starts, one info line when
     * a cycle no longer reports it.
     */
    const outages = new Map<string, ReadonlyArray<string>>()
    const trackOutages = (errors: SubscriptionState.FetchOutcome["errors"]) =>
      Effect.gen(function* () {
        const now = new Map<string, { brokerId: number | undefined; reason: string; partitions: Array<string> }>()
        for (const { position, error } of errors) {
          if (error._tag !== "FetchError" || !error.retriable) continue
          const key = String(error.brokerId ?? "unknown")
          let entry = now.get(key)
          if (entry === undefined) {
            entry = { brokerId: error.brokerId, reason: error.reason, partitions: [] }
            now.set(key, entry)
          }
          entry.partitions.push(TopicPartition.format(position))
        }
        for (const [key, entry] of now) {
          if (outages.has(key)) continue
          outages.set(key, entry.partitions)
          const partitions = entry.partitions.join(",")
          yield* Effect.logWarning(
            `Fetch from broker ${key} failed (${entry.reason}); retrying its partitions ${partitions} with backoff while the others are consumed`,
          ).pipe(Effect.annotateLogs({ brokerId: key, reason: entry.reason, partitions }))
        }
        for (const [key, partitions] of outages) {
          if (now.has(key)) continue
          outages.delete(key)
          yield* Effect.logInfo(`Fetch from broker ${key} works again`).pipe(
            Effect.annotateLogs({ brokerId: key, partitions: partitions.join(",") }),
          )
        }
      })

    // Tagged metrics built once per topic (partition for lag), updated once per chunk.
    const topicMetrics = new Map<string, { records: Metric.Metric.Counter<number>; bytes: Metric.Metric.Counter<number> }>()
    const lagMetrics = new Map<string, Metric.Metric.Gauge<bigint>>()
    const updateMetrics = (records: Chunk.Chunk<ConsumerRecord>, lags: SubscriptionState.FetchOutcome["lags"]) => {
      const updates: Array<Effect.Effect<void>> = []
      if (Chunk.isNonEmpty(records)) {
        for (const n of countByTopic(records)) {
          let m = topicMetrics.get(n.topic)
          if (m === undefined) {
            m = {
              records: Metric.tagged(ConsumerMetrics.records, "topic", n.topic),
              bytes: Metric.tagged(ConsumerMetrics.bytes, "topic", n.topic),
            }
            topicMetrics.set(n.topic, m)
          }
          updates.push(Metric.incrementBy(m.records, n.records), Metric.incrementBy(m.bytes, n.bytes))
        }
      }
      for (const { topic, partition, lag } of lags) {
        const key = TopicPartition.key({ topic, partition })
        let m = lagMetrics.get(key)
        if (m === undefined) {
          m = ConsumerMetrics.lag.pipe(Metric.tagged("topic", topic), Metric.tagged("partition", String(partition)))
          lagMetrics.set(key, m)
        }
        updates.push(Metric.set(m, lag))
      }
      return Effect.all(updates, { discard: true })
    }

    /** One fetch cycle: resolve pending resets, one Fetch over every fetchable partition, apply, heal. */
    const cycle: Effect.Effect<Chunk.Chunk<ConsumerRecord>, ConsumerError | E> = Effect.gen(function* () {
      const earlier = yield* Ref.getAndSet(deferred, Option.none())
      if (Option.isSome(earlier)) return yield* Effect.fail(earlier.value)
      yield* resolvePending()
      const positions = yield* state.fetchPositions
      if (positions.length === 0) {
        yield* state.awaitChange(Duration.toMillis(config.maxWait))
        return Chunk.empty<ConsumerRecord>()
      }
      const results = yield* fetcher
        .fetch(request(positions))
        .pipe(Effect.retry({ schedule: fetchRetry, while: isRetriableFetch }))
      const outcome = yield* state.applyFetch(positions, results)
      const records = outcome.records
      yield* updateMetrics(records, outcome.lags)
      yield* trackOutages(outcome.errors)
      if (outcome.errors.length === 0) return records
      const outOfRange: Array<{ position: SubscriptionState.FetchPosition; error: OffsetOutOfRange }> = []
      let fatal: ConsumerError | undefined
      let retriable = false
      for (const { position, error } of outcome.errors) {
        if (error._tag === "OffsetOutOfRange") outOfRange.push({ position, error })
        else if ((error._tag === "BrokerError" || error._tag === "FetchError") && error.retriable) retriable = true
        else fatal ??= error
      }
      if (fatal !== undefined) return yield* failAfter(records, fatal)
      if (outOfRange.length > 0) {
        const healed = yield* Effect.either(recover(outOfRange))
        if (healed._tag === "Left") return yield* failAfter(records, healed.left)
      }
      if (retriable && Chunk.isEmpty(records)) {
        yield* Effect.logDebug("Retriable partition error in fetch; backing off").pipe(
          Effect.annotateLogs("retryBackoff", Duration.format(config.retryBackoff)),
        )
        yield* Effect.sleep(config.retryBackoff)
      }
      return records
    })

    const exclusive = <A, E1>(stream: Stream.Stream<A, E1>) =>
      Stream.unwrapScoped(Effect.as(Effect.acquireRelease(running.take(1), () => running.release(1)), stream))

    const chunks = exclusive(Stream.repeatEffect(cycle).pipe(Stream.filter(Chunk.isNonEmpty)))
    const records = exclusive(Stream.repeatEffectChunk(cycle))

    const seekReset = (spec: ListOffsetsSpec) => (partitions?: ReadonlyArray<TP>) => state.requestReset(spec, partitions)

    const service: Service<E> = {
      config,
      recoveryPolicy: recovery.policy,
      state,
      assign: Effect.fn("Consumer.assign")(function* (partitions: ReadonlyArray<TP>) {
        yield* state.assign(partitions)
      }),
      assignment: state.assignment,
      pause: Effect.fn("Consumer.pause")(function* (partitions: ReadonlyArray<TP>) {
        yield* state.pause(partitions)
      }),
      resume: Effect.fn("Consumer.resume")(function* (partitions: ReadonlyArray<TP>) {
        yield* state.resume(partitions)
      }),
      paused: state.paused,
      seek: Effect.fn("Consumer.seek")(function* (tp: TP, offset: bigint) {
        yield* state.seek(tp, offset)
      }),
      seekToBeginning: Effect.fn("Consumer.seekToBeginning")(function* (partitions?: ReadonlyArray<TP>) {
        yield* seekReset("earliest")(partitions)
      }),
      seekToEnd: Effect.fn("Consumer.seekToEnd")(function* (partitions?: ReadonlyArray<TP>) {
        yield* seekReset("latest")(partitions)
      }),
      position: Effect.fn("Consumer.position")(function* (tp: TP) {
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
      events: Stream.fromPubSub(events),
      subscribeEvents: PubSub.subscribe(events),
    }
    return service
  })

/** The `Consumer` service (healing recovery) as a layer. */
export const layer = (
  options: Omit<MakeOptions<never>, "recovery"> & { readonly recovery?: OffsetRecovery.Recovery<never> } = {},
): Layer.Layer<Consumer, InvalidConfig, Fetcher | OffsetLister> => Layer.scoped(Consumer, make(options))

/**
 * The `Consumer` service with its settings read from a `Config` (by default `ConsumerConfig.config`,
 * the field names as keys). Validation failures are `InvalidConfig`, naming field and value.
 */
export const layerConfig = (
  config: Config.Config<unknown> = ConsumerConfig.config,
  options: Omit<MakeOptions<never>, "config" | "recovery"> & { readonly recovery?: OffsetRecovery.Recovery<never> } = {},
): Layer.Layer<Consumer, InvalidConfig | ConfigError.ConfigError, Fetcher | OffsetLister> =>
  Layer.scoped(
    Consumer,
    Effect.flatMap(config, (input) => makeFromInput<never>(input, options)),
  )
