/**
 * The fetch loops of a running consumer stream: a supervisor groups the fetchable partitions by
 * leader (`Fetcher.leaders`) and keeps one fiber per broker; each fetches the partitions it leads
 * (claimed in `SubscriptionState`, one fetch in flight per partition), puts the answer into the
 * shared `FetchBuffer` and fetches again as soon as the budget has room. A broker with nothing to
 * send long-polls in its own fiber. Everything the stream must fail with goes into the buffer, in
 * order, behind the records already buffered.
 *
 * Retries: a failed fetch of one broker while another loop's last fetch answered (a leader gone
 * during failover, a broker refusing connections) is retried without limit with a capped backoff
 * and the leaders are looked up again, so its partitions move to their new leader; `fetchRetry`
 * (bounded by default) runs only while nothing at all can be fetched (no loop's last fetch
 * answered), and when it ends the stream fails with the `FetchError`. After the first failure put
 * into the buffer, no loop fetches any more. Logs: one warning when a broker's outage starts, a summary at most every 30
 * seconds while it lasts, one info line when it ends.
 */
import { Cause, Clock, Deferred, Duration, Effect, Either, FiberMap, Metric, Ref, Schedule, type Scope } from "effect"
import type { ConsumerConfig } from "../ConsumerConfig.js"
import * as ConsumerMetrics from "../ConsumerMetrics.js"
import type { Fetcher, FetchRequest, PartitionFetchResult } from "../Fetcher.js"
import type { FetchFailure, OffsetOutOfRange, PartitionFetchError } from "../KafkaError.js"
import type * as SubscriptionState from "../SubscriptionState.js"
import * as TopicPartition from "../TopicPartition.js"
import { type FetchBuffer, makeSignal, segmentBytes } from "./fetchBuffer.js"

/** The group of partitions whose leader is unknown, or of a `Fetcher` without `leaders`. */
export const unknownLeader = -1

/** The backoff of one broker's loop while other brokers answer: from `retryBackoff`, doubling, capped. */
export const partialOutageMaxMs = 2_000

/** A summary log line at most this often while an outage lasts. */
export const outageSummaryMs = 30_000

/** How often the supervisor looks at the leaders when nothing else woke it. */
export const leaderRefreshMs = 5_000

export interface Env<E> {
  readonly state: SubscriptionState.SubscriptionState
  readonly fetcher: Fetcher["Type"]
  readonly config: ConsumerConfig
  readonly buffer: FetchBuffer<E>
  readonly fetchRetry: Schedule.Schedule<unknown, FetchFailure>
  /** Resolves pending resets of the fetchable partitions (one ListOffsets per spec). */
  readonly resolvePending: Effect.Effect<void, E>
  /** Heals out-of-range answers; returns the position moves to queue behind buffered records. */
  readonly recover: (
    outOfRange: ReadonlyArray<{ readonly position: SubscriptionState.FetchPosition; readonly error: OffsetOutOfRange }>,
  ) => Effect.Effect<ReadonlyArray<SubscriptionState.Segment>, E>
  /** Widens a fetch error into the stream's error type. */
  readonly fetchFailure: (error: FetchFailure | Exclude<PartitionFetchError, OffsetOutOfRange>) => E
}

/** What is left to do after an answer was handled: fail, back off, or fetch again. */
interface Handled {
  readonly fatal: Exclude<PartitionFetchError, OffsetOutOfRange> | undefined
  readonly retriable: boolean
  readonly buffered: boolean
}

const isRetriableFetch = (e: FetchFailure): boolean => e._tag === "FetchError" && e.retriable

interface Outage {
  /** The loop that reported it, and ends it when its fetches work again. */
  readonly owner: number
  readonly reason: string
  readonly partitions: string
  readonly since: number
  readonly lastLog: number
  readonly attempts: number
}

/** Runs the supervisor and its loops until the scope closes; failures go into the buffer. */
export const run = <E>(env: Env<E>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { state, fetcher, config, buffer } = env
    const maxWaitMs = Duration.toMillis(config.maxWait)
    const groups = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const regrouped = yield* makeSignal
    const regroup = yield* makeSignal
    // The loops whose last fetch answered (a loop waiting for buffer room keeps its mark).
    const healthy = yield* Ref.make<ReadonlySet<number>>(new Set())
    const markHealthy = (id: number, ok: boolean) =>
      Ref.update(healthy, (set) => {
        if (set.has(id) === ok) return set
        const next = new Set(set)
        if (ok) next.add(id)
        else next.delete(id)
        return next
      })
    const outages = yield* Ref.make<ReadonlyMap<string, Outage>>(new Map())
    const loops = yield* FiberMap.make<number>()

    // Set by the first failure: no loop fetches after it (the stream fails when it reaches it).
    const failed = yield* Ref.make(false)
    const stopped = yield* Deferred.make<void>()

    /** Puts a failure into the buffer, behind what is there: the stream fails when it reaches it. */
    const escalate = (cause: Cause.Cause<E>) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.void
        : Effect.flatMap(Ref.getAndSet(failed, true), (already) =>
            already
              ? Effect.void
              : Effect.zipRight(buffer.offer({ _tag: "Failure", cause }, 0), Deferred.succeed(stopped, undefined)),
          )

    const outageStarted = (owner: number, key: string, reason: string, partitions: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const current = (yield* Ref.get(outages)).get(key)
        const joined = partitions.join(",")
        if (current === undefined) {
          yield* Ref.update(outages, (m) => new Map(m).set(key, { owner, reason, partitions: joined, since: now, lastLog: now, attempts: 1 }))
          yield* Effect.logWarning(
            `Fetch from broker ${key} failed (${reason}); retrying its partitions ${joined} with backoff while the others are consumed`,
          ).pipe(Effect.annotateLogs({ brokerId: key, reason, partitions: joined }))
          return
        }
        const attempts = current.attempts + 1
        if (now - current.lastLog >= outageSummaryMs) {
          yield* Ref.update(outages, (m) => new Map(m).set(key, { ...current, reason, lastLog: now, attempts: 0 }))
          yield* Effect.logWarning(
            `Fetch from broker ${key} still failing (${reason}) after ${Duration.format(Duration.millis(now - current.since))}: ${attempts} attempts since the last report`,
          ).pipe(Effect.annotateLogs({ brokerId: key, reason, partitions: joined, attempts: String(attempts) }))
        } else {
          yield* Ref.update(outages, (m) => new Map(m).set(key, { ...current, attempts }))
        }
      })

    /** The outages `owner` reported that its last answer no longer shows are over. */
    const outagesEnded = (owner: number, still: ReadonlyMap<string, unknown>) =>
      Effect.gen(function* () {
        const ended = yield* Ref.modify(outages, (m): readonly [Array<[string, Outage]>, ReadonlyMap<string, Outage>] => {
          const gone = [...m].filter(([k, o]) => o.owner === owner && !still.has(k))
          if (gone.length === 0) return [gone, m]
          const next = new Map(m)
          for (const [k] of gone) next.delete(k)
          return [gone, next]
        })
        for (const [k, o] of ended) {
          yield* Effect.logInfo(`Fetch from broker ${k} works again`).pipe(
            Effect.annotateLogs({ brokerId: k, partitions: o.partitions }),
          )
        }
      })

    const request = (positions: ReadonlyArray<SubscriptionState.FetchPosition>, maxBytes: number): FetchRequest => ({
      partitions: positions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        maxBytes: config.maxPartitionBytes,
      })),
      maxWaitMs,
      minBytes: config.minBytes,
      maxBytes,
      isolationLevel: config.isolationLevel,
      deferDecoding: true,
    })

    // Tagged metrics built once per partition, updated once per answer.
    const lagMetrics = new Map<string, Metric.Metric.Gauge<bigint>>()
    const updateLags = (lags: SubscriptionState.BufferOutcome["lags"]) =>
      Effect.forEach(
        lags,
        ({ topic, partition, lag }) => {
          const key = TopicPartition.key({ topic, partition })
          let m = lagMetrics.get(key)
          if (m === undefined) {
            m = ConsumerMetrics.forPartition(ConsumerMetrics.lag, topic, partition)
            lagMetrics.set(key, m)
          }
          return Metric.set(m, lag)
        },
        { discard: true },
      )

    const fetchOnce = (brokerId: number, positions: ReadonlyArray<SubscriptionState.FetchPosition>, maxBytes: number) =>
      fetcher.fetch(request(positions, maxBytes)).pipe(
        Effect.tap((results) =>
          Effect.annotateCurrentSpan("messaging.batch.message_count", countRecords(results)),
        ),
        ConsumerMetrics.timed(ConsumerMetrics.fetchLatency),
        Effect.withSpan("Consumer.fetch", {
          attributes: { "messaging.kafka.broker.id": brokerId, "messaging.kafka.partitions": positions.length },
        }),
      )

    /**
     * A fetch's answer: buffered (its records behind what is there), its partitions released, lags,
     * outages, out-of-range recovery and a leader check; tells the loop what is left to do.
     */
    const onAnswer = (
      brokerId: number,
      positions: ReadonlyArray<SubscriptionState.FetchPosition>,
      reserved: number,
      results: ReadonlyArray<PartitionFetchResult>,
    ): Effect.Effect<Handled, E> =>
      Effect.gen(function* () {
        yield* markHealthy(brokerId, true)
        const outcome = yield* state.bufferFetch(positions, results)
        const outOfRange: Array<{ position: SubscriptionState.FetchPosition; error: OffsetOutOfRange }> = []
        let fatal: Exclude<PartitionFetchError, OffsetOutOfRange> | undefined
        let retriable = false
        const down = new Map<string, { reason: string; partitions: Array<string> }>()
        for (const { position, error } of outcome.errors) {
          if (error._tag === "OffsetOutOfRange") outOfRange.push({ position, error })
          else if ((error._tag === "BrokerError" || error._tag === "FetchError") && error.retriable) {
            retriable = true
            if (error._tag === "FetchError") {
              const k = String(error.brokerId ?? "unknown")
              const entry = down.get(k) ?? { reason: error.reason, partitions: [] }
              entry.partitions.push(TopicPartition.format(position))
              down.set(k, entry)
            }
          } else fatal ??= error
        }
        let bytes = 0
        for (const s of outcome.segments) bytes += segmentBytes(s)
        const buffered = outcome.segments.length > 0
        if (buffered) yield* buffer.offer({ _tag: "Answer", segments: outcome.segments, bytes }, reserved)
        else yield* buffer.cancel(reserved)
        // Out-of-range partitions stay claimed until their recovery moved them.
        yield* state.release(positions, new Set(outOfRange.map((o) => TopicPartition.key(o.position))))
        yield* updateLags(outcome.lags)
        for (const [k, entry] of down) yield* outageStarted(brokerId, k, entry.reason, entry.partitions)
        yield* outagesEnded(brokerId, down)
        if (fatal !== undefined) return { fatal, retriable, buffered }
        if (outOfRange.length > 0) {
          const jumps = yield* env.recover(outOfRange)
          if (jumps.length > 0) yield* buffer.offer({ _tag: "Answer", segments: jumps, bytes: 0 }, 0)
        }
        // A leader that moved (the fetcher may have followed it inside the call): group again.
        if (!retriable && fetcher.leaders !== undefined && brokerId !== unknownLeader) {
          const now = yield* fetcher.leaders(positions)
          if (positions.some((p) => now.get(TopicPartition.key(p)) !== brokerId)) yield* regroup.notify
        }
        return { fatal, retriable, buffered }
      })

    /** One broker's loop: fetch what it leads, buffer, fetch again. Ends only with a failure it escalated. */
    const leaderLoop = (brokerId: number) =>
      Effect.gen(function* () {
        const owns = (map: ReadonlyMap<string, number>) => (key: string) => map.get(key) === brokerId
        const driver = yield* Schedule.driver(env.fetchRetry)
        let partialFailures = 0
        const key = brokerId === unknownLeader ? "unknown" : String(brokerId)
        const idle = (wake: Effect.Effect<void>, regroupWake: Effect.Effect<void>) =>
          Effect.raceFirst(wake, regroupWake).pipe(Effect.timeoutOption(maxWaitMs), Effect.asVoid)
        while (true) {
          const wake = yield* state.nextChange
          const regroupWake = yield* regrouped.next
          const map = yield* Ref.get(groups)
          let owned = 0
          for (const id of map.values()) if (id === brokerId) owned++
          if (owned === 0) {
            yield* markHealthy(brokerId, false)
            yield* idle(wake, regroupWake)
            continue
          }
          const reserved = yield* buffer.reserve(Math.min(config.maxBytes, owned * config.maxPartitionBytes))
          const positions = yield* state.claim(owns(yield* Ref.get(groups)))
          if (positions.length === 0) {
            yield* buffer.cancel(reserved)
            yield* idle(wake, regroupWake)
            continue
          }
          // The answer is handled in `onAnswer`, whose generator ends when it is buffered: this
          // generator keeps every value it ever held in a register alive while it waits (for buffer
          // room, for the next fetch), so here it would keep the answer's records alive meanwhile.
          const answer: Either.Either<Handled, FetchFailure> = yield* Effect.flatMap(
            Effect.either(fetchOnce(brokerId, positions, reserved)),
            (fetched): Effect.Effect<Either.Either<Handled, FetchFailure>, E> =>
              Either.isLeft(fetched)
                ? Effect.succeed(Either.left(fetched.left))
                : Effect.map(onAnswer(brokerId, positions, reserved, fetched.right), Either.right),
          )
          if (answer._tag === "Left") {
            yield* state.release(positions)
            yield* buffer.cancel(reserved)
            const error = answer.left
            if (!isRetriableFetch(error)) return yield* escalate(Cause.fail(env.fetchFailure(error)))
            const outageKey = error._tag === "FetchError" && error.brokerId !== undefined ? String(error.brokerId) : key
            yield* outageStarted(brokerId, outageKey, error._tag === "FetchError" ? error.reason : error._tag, positions.map(TopicPartition.format))
            yield* regroup.notify
            yield* markHealthy(brokerId, false)
            if ((yield* Ref.get(healthy)).size > 0) {
              // Others answer: this broker alone is gone (failover, a restart). Retry without limit.
              partialFailures++
              yield* driver.reset
              const backoff = Math.min(Duration.toMillis(config.retryBackoff) * 2 ** Math.min(partialFailures - 1, 20), partialOutageMaxMs)
              yield* Effect.sleep(Duration.millis(backoff))
              continue
            }
            const next = yield* Effect.either(driver.next(error))
            if (next._tag === "Left") return yield* escalate(Cause.fail(env.fetchFailure(error)))
            continue
          }
          partialFailures = 0
          yield* driver.reset
          const { fatal, retriable, buffered } = answer.right
          if (fatal !== undefined) return yield* escalate(Cause.fail(env.fetchFailure(fatal)))
          if (retriable) {
            yield* regroup.notify
            if (!buffered) {
              yield* Effect.logDebug("Retriable partition error in fetch; backing off").pipe(
                Effect.annotateLogs("retryBackoff", Duration.format(config.retryBackoff)),
              )
              yield* Effect.sleep(config.retryBackoff)
            }
          }
        }
      }).pipe(
        Effect.catchAllCause(escalate),
        Effect.withSpan("Consumer.fetchLoop", { attributes: { "messaging.kafka.broker.id": brokerId } }),
      )

    /** Groups the fetchable partitions by leader and keeps one loop per leader. */
    const supervise = Effect.gen(function* () {
      while (!(yield* Deferred.isDone(stopped))) {
        const wake = yield* state.nextChange
        const regroupWake = yield* regroup.next
        yield* env.resolvePending
        const positions = yield* state.fetchPositions
        const leaders = fetcher.leaders === undefined ? undefined : yield* fetcher.leaders(positions)
        const map = new Map<string, number>()
        for (const p of positions) {
          const k = TopicPartition.key(p)
          map.set(k, leaders?.get(k) ?? unknownLeader)
        }
        const before = yield* Ref.getAndSet(groups, map)
        if (!sameGroups(before, map)) yield* regrouped.notify
        for (const id of new Set(map.values())) yield* FiberMap.run(loops, id, leaderLoop(id), { onlyIfMissing: true })
        yield* Effect.raceFirst(wake, regroupWake).pipe(Effect.timeoutOption(leaderRefreshMs))
      }
    }).pipe(Effect.catchAllCause(escalate))

    yield* Effect.forkScoped(supervise)
    // After the first failure nothing is fetched any more.
    yield* Effect.forkScoped(Effect.zipRight(Deferred.await(stopped), FiberMap.clear(loops)))
  })

const sameGroups = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean => {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

const countRecords = (results: ReadonlyArray<PartitionFetchResult>): number => {
  let n = 0
  for (const r of results) if (r._tag === "Records") n += r.deferred === undefined ? r.records.length : r.deferred.count
  return n
}
