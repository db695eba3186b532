/**
 * What a consumer knows about its partitions: the assignment, the position of each partition with
 * an epoch, pending resets, paused partitions, and seeks recorded before the first assignment.
 *
 * One `Ref` holds it all; every operation is one atomic update. Each partition has two positions:
 * the fetch position (where its next fetch starts, moved when an answer is buffered) and the
 * delivered position (`position`, moved when a chunk is handed downstream: what `position()`
 * reports). The fetch loops claim partitions with their epochs (one fetch in flight per
 * partition), and an answer, buffered or in flight, is kept only while the epoch is still the
 * same: a seek, a reset, a pause or resume, or a reassignment bumps the epoch, puts the fetch
 * position back to the delivered one, and the stale data is dropped.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Option, Ref } from "effect"
import type { AutoOffsetReset } from "./ConsumerConfig.js"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import type { DeferredRecords, PartitionFetchResult, PartitionRecords } from "./Fetcher.js"
import { PartitionNotAssigned, type PartitionFetchError } from "./KafkaError.js"
import type { ListOffsetsSpec } from "./OffsetSpec.js"
import * as TopicPartition from "./TopicPartition.js"

type TP = TopicPartition.TopicPartition

/**
 * Where a partition's position comes from while it has none: `earliest`/`latest` are resolved with
 * ListOffsets; `none` means no committed offset and `autoOffsetReset=none` (fetching fails).
 *
 * @since 0.1.0
 * @category models
 */
export type PendingReset = ListOffsetsSpec | "none"

/**
 * A seek recorded before the first assignment.
 *
 * @since 0.1.0
 * @category models
 */
export type Intent =
  | { readonly _tag: "Exact"; readonly offset: bigint }
  | { readonly _tag: "Reset"; readonly spec: ListOffsetsSpec }

/**
 * What the state holds for one assigned partition: its two positions, the claim of a fetch in
 * flight, a pending reset, its epoch, whether it is paused, and the offsets of the last answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionState {
  readonly topic: string
  readonly partition: number
  /**
   * The delivered position: the offset of the next record to hand downstream (what `position()`
   * reports); `undefined` while a reset is pending.
   */
  readonly position: bigint | undefined
  /** Where the next fetch starts: at or ahead of `position` by what is buffered; `undefined` while a reset is pending. */
  readonly fetchPosition: bigint | undefined
  /** A fetch loop holds a fetch (or a recovery) of this partition in flight at `fetchPosition`. */
  readonly inFlight: boolean
  readonly pendingReset: PendingReset | undefined
  /** Bumped by every seek, reset, pause, resume and reassignment: older answers are dropped. */
  readonly epoch: number
  readonly paused: boolean
  /** From the last fetch answer, for lag. */
  readonly highWatermark: bigint | undefined
  readonly logStartOffset: bigint | undefined
  /** Out-of-range answers in a row for an offset inside the listed range (see `OffsetRecovery`). */
  readonly recoveryAttempts: number
}

/**
 * A partition to fetch, with the epoch of its position.
 *
 * @since 0.1.0
 * @category models
 */
export interface FetchPosition {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly epoch: number
}

/**
 * A partition whose position waits for a ListOffsets answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingPosition {
  readonly topic: string
  readonly partition: number
  readonly spec: PendingReset
  readonly epoch: number
}

/**
 * What a buffered answer holds for one partition: the records from `from`, and the position after them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Segment {
  readonly topic: string
  readonly partition: number
  readonly epoch: number
  /** The fetch position the records were fetched at (the delivered position they follow). */
  readonly from: bigint
  /** The delivered position once these records are handed downstream. */
  readonly next: bigint
  /** The records (empty when `deferred` holds them). */
  readonly records: ReadonlyArray<ConsumerRecord>
  /**
   * Their key and value bytes, counted once when the answer is buffered (for the buffer and the
   * metrics); for deferred records, the bytes they take in the answer.
   */
  readonly bytes: number
  /** Records the fetcher left to decode when the segment is handed out. */
  readonly deferred?: DeferredRecords | undefined
}

/**
 * What `bufferFetch` made of an answer: one segment per current partition that moved, and the errors.
 *
 * @since 0.1.0
 * @category models
 */
export interface BufferOutcome {
  readonly segments: ReadonlyArray<Segment>
  readonly errors: ReadonlyArray<{ readonly position: FetchPosition; readonly error: PartitionFetchError }>
  readonly stale: number
  readonly lags: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly lag: bigint }>
}

/**
 * Where `resetPosition` moved the partition.
 *
 * @since 0.1.0
 * @category models
 */
export type ResetOutcome =
  /** The position moved (both positions: nothing of the partition was buffered). */
  | "Moved"
  /** The fetch position moved; the delivered one follows when the records buffered before it are delivered. */
  | "Queued"
  /** Nothing changed: the partition moved meanwhile (seek, pause, revoke). */
  | "Stale"

interface State {
  readonly assigned: ReadonlyMap<string, PartitionState>
  readonly everAssigned: boolean
  /** `seekToBeginning()`/`seekToEnd()` with no partitions, before the first assignment. */
  readonly intentAll: ListOffsetsSpec | undefined
  readonly intents: ReadonlyMap<string, Intent>
  /**
   * The last epoch handed out. Epochs only grow, across reassignments too, so an answer for a
   * revoked-then-reassigned partition is still recognised as stale.
   */
  readonly lastEpoch: number
}

/**
 * The subscription state of one consumer: assignment, positions, pauses, resets, and the claims
 * and buffered answers of the fetch loops. Every operation is one atomic update of one `Ref`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscriptionState {
  readonly autoOffsetReset: AutoOffsetReset
  /**
   * Replaces the assignment. Partitions that stay keep their position, pending reset and pause;
   * new ones start from `committed` when it has an offset for them, from a seek recorded before the
   * first assignment, or else from `autoOffsetReset`. Dropped partitions lose everything.
   */
  readonly assign: (
    partitions: ReadonlyArray<TP>,
    committed?: ReadonlyMap<string, bigint>,
  ) => Effect.Effect<void>
  /** Adds partitions to the assignment (incremental rebalance); already assigned ones are kept as they are. */
  readonly addPartitions: (
    partitions: ReadonlyArray<TP>,
    committed?: ReadonlyMap<string, bigint>,
  ) => Effect.Effect<void>
  /** Removes partitions (revoked); their pending seeks go with them. */
  readonly revokePartitions: (partitions: ReadonlyArray<TP>) => Effect.Effect<void>
  readonly assignment: Effect.Effect<ReadonlyArray<TP>>
  readonly isAssigned: (tp: TP) => Effect.Effect<boolean>
  /** Sets the position (lazily: the next fetch goes there). Before the first assignment, recorded. */
  readonly seek: (tp: TP, offset: bigint) => Effect.Effect<void, PartitionNotAssigned>
  /**
   * Marks partitions for a reset to `spec`, resolved by the next fetch cycle or `position`. No
   * partitions: every assigned one (before the first assignment: every one that will be assigned).
   */
  readonly requestReset: (
    spec: ListOffsetsSpec,
    partitions?: ReadonlyArray<TP>,
  ) => Effect.Effect<void, PartitionNotAssigned>
  readonly pause: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  readonly resume: (partitions: ReadonlyArray<TP>) => Effect.Effect<void, PartitionNotAssigned>
  readonly paused: Effect.Effect<ReadonlyArray<TP>>
  readonly get: (tp: TP) => Effect.Effect<PartitionState, PartitionNotAssigned>
  readonly partitions: Effect.Effect<ReadonlyArray<PartitionState>>
  readonly intents: Effect.Effect<{ readonly all: ListOffsetsSpec | undefined; readonly partitions: ReadonlyMap<string, Intent> }>
  /** Assigned, not paused, with a position: what the next fetch asks for. */
  readonly fetchPositions: Effect.Effect<ReadonlyArray<FetchPosition>>
  /** Assigned, not paused (unless `partitions` are named), waiting for a reset. */
  readonly pendingResets: (partitions?: ReadonlyArray<TP>) => Effect.Effect<ReadonlyArray<PendingPosition>>
  /** Sets resolved positions, where the epoch is still that of the pending reset. Returns how many were set. */
  readonly completeResets: (
    resolved: ReadonlyArray<{ readonly pending: PendingPosition; readonly offset: bigint }>,
  ) => Effect.Effect<number>
  /**
   * Moves a partition that the broker said was out of range at `position` to `offset`, and ends
   * its claim. The delivered position moves too when nothing of the partition is buffered ahead
   * (`Moved`); else it follows when the buffered records are delivered (`Queued`: a segment from
   * `position.offset` to `offset` without records goes into the buffer). `Stale` when the
   * partition moved meanwhile.
   */
  readonly resetPosition: (position: FetchPosition, offset: bigint) => Effect.Effect<ResetOutcome>
  /** Counts one more out-of-range answer inside the listed range (and ends the claim); returns the count. */
  readonly countRecoveryAttempt: (position: FetchPosition) => Effect.Effect<number>
  /** Waits until the state changes (seek, assign, resume, …) or `timeoutMs` passes. */
  readonly awaitChange: (timeoutMs: number) => Effect.Effect<void>
  /**
   * An effect that completes at the next change after this one returned (seek, assign, pause,
   * resume, reset, a claim released): read it before looking at the state, so nothing is missed.
   */
  readonly nextChange: Effect.Effect<Effect.Effect<void>>
  /**
   * Claims the fetchable partitions (assigned, not paused, with a fetch position, none in flight)
   * that `owns` accepts: they are in flight until `release`, so one fetch at a time each.
   */
  readonly claim: (owns: (key: string) => boolean) => Effect.Effect<ReadonlyArray<FetchPosition>>
  /**
   * Buffers a fetch answer: for the sent positions still current, moves the fetch position past
   * the records (to `nextOffset` when given) and keeps high watermarks. The delivered position does
   * not move (see `deliver`); the claims stay until `release`.
   */
  readonly bufferFetch: (
    sent: ReadonlyArray<FetchPosition>,
    results: ReadonlyArray<PartitionFetchResult>,
  ) => Effect.Effect<BufferOutcome>
  /** Ends the claims of `sent` that are still current (except those in `keep`, e.g. under recovery). */
  readonly release: (sent: ReadonlyArray<FetchPosition>, keep?: ReadonlySet<string>) => Effect.Effect<void>
  /**
   * Hands segments downstream: those still current (same epoch, delivered position at `from`) move
   * the delivered position to `next` and are returned; the others are dropped. One update.
   */
  readonly deliver: (segments: ReadonlyArray<Segment>) => Effect.Effect<ReadonlyArray<Segment>>
  /**
   * The stream stopped: what was buffered and not delivered is given up, every fetch position goes
   * back to the delivered one, claims end, and epochs move so late answers are dropped.
   */
  readonly rewind: Effect.Effect<void>
}

const initial: State = { assigned: new Map(), everAssigned: false, intentAll: undefined, intents: new Map(), lastEpoch: 0 }

/** Hands out the next epoch while an update runs. */
type NextEpoch = () => number

/** Runs an update that may hand out epochs; the last one handed out goes into the state. */
const epochal =
  <A>(f: (state: State, next: NextEpoch) => readonly [A, State]) =>
  (state: State): readonly [A, State] => {
    let last = state.lastEpoch
    const [a, out] = f(state, () => ++last)
    return [a, last === out.lastEpoch ? out : { ...out, lastEpoch: last }]
  }

const fresh = (tp: TP, epoch: number): PartitionState => ({
  topic: tp.topic,
  partition: tp.partition,
  position: undefined,
  fetchPosition: undefined,
  inFlight: false,
  pendingReset: undefined,
  epoch,
  paused: false,
  highWatermark: undefined,
  logStartOffset: undefined,
  recoveryAttempts: 0,
})

/** Key and value bytes of records (a segment's `bytes`). */
const recordsBytes = (records: ReadonlyArray<ConsumerRecord>): number => {
  let n = 0
  for (const r of records) n += (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0)
  return n
}

/**
 * Where a partition's answer moves its fetch position (`position`, the offset it was fetched at),
 * and the segment to buffer when it moved.
 */
const moved = (
  result: PartitionRecords,
  position: FetchPosition,
): { readonly next: bigint; readonly segment: Omit<Segment, "topic" | "partition" | "epoch"> | undefined } => {
  const deferred = result.deferred
  let next = position.offset
  let records = result.records
  if (deferred !== undefined) {
    // Decoded when handed out, at the fetch offset (this position): only where it ends is needed now.
    next = deferred.next
  } else {
    // Batches start at their base offset: drop what lies below the position.
    let from = 0
    while (from < records.length && records[from]!.offset < position.offset) from++
    if (from < records.length) next = records[records.length - 1]!.offset + 1n
    if (from > 0) records = records.slice(from)
  }
  if (result.nextOffset !== undefined && result.nextOffset > next) next = result.nextOffset
  if (next === position.offset) return { next, segment: undefined }
  return {
    next,
    segment:
      deferred !== undefined
        ? { from: position.offset, next, records: [], bytes: deferred.bytes, deferred }
        : { from: position.offset, next, records, bytes: recordsBytes(records) },
  }
}

const notAssigned = (tp: TP, operation: string) =>
  new PartitionNotAssigned({ topic: tp.topic, partition: tp.partition, operation })

/**
 * A fresh, empty state (nothing assigned, no seek recorded); partitions with no committed offset
 * and no seek start from `autoOffsetReset`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly autoOffsetReset: AutoOffsetReset }): Effect.Effect<SubscriptionState> =>
  Effect.gen(function* () {
    const ref = yield* Ref.make(initial)
    // Every waiter holds the current Deferred; a change completes it and puts a fresh one in place.
    const signal = yield* Ref.make(yield* Deferred.make<void>())
    const notify = Effect.flatMap(Deferred.make<void>(), (fresh) =>
      Effect.flatMap(Ref.getAndSet(signal, fresh), (old) => Deferred.succeed(old, undefined)),
    )
    const nextChange = Effect.map(Ref.get(signal), (d) => Deferred.await(d))
    const withPosition = (p: PartitionState, position: bigint, nextEpoch: NextEpoch): PartitionState => ({
      ...p,
      position,
      fetchPosition: position,
      inFlight: false,
      pendingReset: undefined,
      epoch: nextEpoch(),
      recoveryAttempts: 0,
    })

    const withReset = (p: PartitionState, spec: PendingReset, nextEpoch: NextEpoch): PartitionState => ({
      ...p,
      position: undefined,
      fetchPosition: undefined,
      inFlight: false,
      pendingReset: spec,
      epoch: nextEpoch(),
      recoveryAttempts: 0,
    })

    const startOf = (
      state: State,
      tp: TP,
      committed: ReadonlyMap<string, bigint> | undefined,
      nextEpoch: NextEpoch,
    ): PartitionState => {
      const k = TopicPartition.key(tp)
      const base = fresh(tp, nextEpoch())
      const intent = state.intents.get(k)
      if (intent !== undefined) {
        return intent._tag === "Exact"
          ? { ...base, position: intent.offset, fetchPosition: intent.offset }
          : { ...base, pendingReset: intent.spec }
      }
      if (!state.everAssigned && state.intentAll !== undefined) return { ...base, pendingReset: state.intentAll }
      const offset = committed?.get(k)
      if (offset !== undefined) return { ...base, position: offset, fetchPosition: offset }
      return { ...base, pendingReset: options.autoOffsetReset }
    }

    const addTo = (
      state: State,
      keep: ReadonlyMap<string, PartitionState>,
      partitions: ReadonlyArray<TP>,
      committed: ReadonlyMap<string, bigint> | undefined,
      nextEpoch: NextEpoch,
    ): State => {
      const assigned = new Map<string, PartitionState>()
      const intents = new Map(state.intents)
      for (const [k, p] of keep) assigned.set(k, p)
      for (const tp of partitions) {
        const k = TopicPartition.key(tp)
        if (assigned.has(k)) continue
        assigned.set(k, startOf(state, tp, committed, nextEpoch))
        intents.delete(k)
      }
      return { ...state, assigned, everAssigned: true, intentAll: undefined, intents }
    }

    const update = <A, E>(
      f: (state: State, nextEpoch: NextEpoch) => readonly [A, State] | E,
      isError: (u: readonly [A, State] | E) => u is E,
    ) =>
      Ref.modify(ref, (state): readonly [readonly [A, State] | E, State] => {
        let last = state.lastEpoch
        const out = f(state, () => ++last)
        return isError(out) ? [out, state] : [out, { ...out[1], lastEpoch: last }]
      }).pipe(
        Effect.flatMap((out) => (isError(out) ? Effect.fail(out) : Effect.as(notify, out[0]))),
      )
    const isNotAssigned = (u: unknown): u is PartitionNotAssigned => u instanceof PartitionNotAssigned

    const firstUnassigned = (state: State, partitions: ReadonlyArray<TP>): TP | undefined =>
      partitions.find((tp) => !state.assigned.has(TopicPartition.key(tp)))

    const assign: SubscriptionState["assign"] = (partitions, committed) =>
      Ref.update(ref, (state) =>
        epochal((s, nextEpoch) => {
          const wanted = new Set(partitions.map(TopicPartition.key))
          const keep = new Map<string, PartitionState>()
          for (const [k, p] of s.assigned) if (wanted.has(k)) keep.set(k, p)
          return [undefined, addTo(s, keep, partitions, committed, nextEpoch)]
        })(state)[1],
      ).pipe(Effect.zipRight(notify))

    const addPartitions: SubscriptionState["addPartitions"] = (partitions, committed) =>
      Ref.update(ref, (state) => epochal((s, nextEpoch) => [undefined, addTo(s, s.assigned, partitions, committed, nextEpoch)])(state)[1]).pipe(
        Effect.zipRight(notify),
      )

    const revokePartitions: SubscriptionState["revokePartitions"] = (partitions) =>
      Ref.update(ref, (state) => {
        const assigned = new Map(state.assigned)
        for (const tp of partitions) assigned.delete(TopicPartition.key(tp))
        return { ...state, assigned }
      }).pipe(Effect.zipRight(notify))

    const seek: SubscriptionState["seek"] = (tp, offset) =>
      update((state, nextEpoch): readonly [undefined, State] | PartitionNotAssigned => {
        const k = TopicPartition.key(tp)
        const p = state.assigned.get(k)
        if (p !== undefined) {
          const assigned = new Map(state.assigned)
          assigned.set(k, withPosition(p, offset, nextEpoch))
          return [undefined, { ...state, assigned }]
        }
        if (state.everAssigned) return notAssigned(tp, "seek")
        const intents = new Map(state.intents)
        intents.set(k, { _tag: "Exact", offset })
        return [undefined, { ...state, intents }]
      }, isNotAssigned)

    const requestReset: SubscriptionState["requestReset"] = (spec, partitions) =>
      update((state, nextEpoch): readonly [undefined, State] | PartitionNotAssigned => {
        const operation = spec === "earliest" ? "seekToBeginning" : "seekToEnd"
        if (!state.everAssigned) {
          if (partitions === undefined) return [undefined, { ...state, intentAll: spec, intents: new Map() }]
          const intents = new Map(state.intents)
          for (const tp of partitions) intents.set(TopicPartition.key(tp), { _tag: "Reset", spec })
          return [undefined, { ...state, intents }]
        }
        const missing = partitions === undefined ? undefined : firstUnassigned(state, partitions)
        if (missing !== undefined) return notAssigned(missing, operation)
        const assigned = new Map(state.assigned)
        const keys = partitions === undefined ? [...state.assigned.keys()] : partitions.map(TopicPartition.key)
        for (const k of keys) {
          const p = assigned.get(k)
          if (p !== undefined) assigned.set(k, withReset(p, spec, nextEpoch))
        }
        return [undefined, { ...state, assigned }]
      }, isNotAssigned)

    const setPaused = (partitions: ReadonlyArray<TP>, paused: boolean) =>
      update((state, nextEpoch): readonly [undefined, State] | PartitionNotAssigned => {
        const missing = firstUnassigned(state, partitions)
        if (missing !== undefined) return notAssigned(missing, paused ? "pause" : "resume")
        const assigned = new Map(state.assigned)
        for (const tp of partitions) {
          const k = TopicPartition.key(tp)
          const p = assigned.get(k)
          // A change of pause gives up what is buffered or in flight for the partition.
          if (p !== undefined && p.paused !== paused) {
            assigned.set(k, { ...p, paused, fetchPosition: p.position, inFlight: false, epoch: nextEpoch() })
          }
        }
        return [undefined, { ...state, assigned }]
      }, isNotAssigned)

    const fetchPositions = Effect.map(Ref.get(ref), (state) => {
      const out: Array<FetchPosition> = []
      for (const p of state.assigned.values()) {
        if (!p.paused && p.fetchPosition !== undefined) {
          out.push({ topic: p.topic, partition: p.partition, offset: p.fetchPosition, epoch: p.epoch })
        }
      }
      return out
    })

    const pendingResets: SubscriptionState["pendingResets"] = (partitions) =>
      Effect.map(Ref.get(ref), (state) => {
        const out: Array<PendingPosition> = []
        const candidates =
          partitions === undefined
            ? [...state.assigned.values()].filter((p) => !p.paused)
            : partitions.flatMap((tp) => {
                const p = state.assigned.get(TopicPartition.key(tp))
                return p === undefined ? [] : [p]
              })
        for (const p of candidates) {
          if (p.pendingReset !== undefined) {
            out.push({ topic: p.topic, partition: p.partition, spec: p.pendingReset, epoch: p.epoch })
          }
        }
        return out
      })

    const completeResets: SubscriptionState["completeResets"] = (resolved) =>
      Ref.modify(ref, (state): readonly [number, State] => {
        const assigned = new Map(state.assigned)
        let n = 0
        for (const { pending, offset } of resolved) {
          const k = TopicPartition.key(pending)
          const p = assigned.get(k)
          if (p === undefined || p.epoch !== pending.epoch || p.pendingReset === undefined) continue
          assigned.set(k, { ...p, position: offset, fetchPosition: offset, inFlight: false, pendingReset: undefined })
          n++
        }
        return [n, n === 0 ? state : { ...state, assigned }]
      }).pipe(Effect.tap((n) => (n === 0 ? Effect.void : notify)))

    const resetPosition: SubscriptionState["resetPosition"] = (position, offset) =>
      Ref.modify(ref, epochal((state, nextEpoch): readonly [ResetOutcome, State] => {
        const k = TopicPartition.key(position)
        const p = state.assigned.get(k)
        if (p === undefined || p.epoch !== position.epoch || p.fetchPosition !== position.offset) return ["Stale", state]
        const assigned = new Map(state.assigned)
        if (p.position === position.offset) {
          assigned.set(k, withPosition(p, offset, nextEpoch))
          return ["Moved", { ...state, assigned }]
        }
        assigned.set(k, { ...p, fetchPosition: offset, inFlight: false, recoveryAttempts: 0 })
        return ["Queued", { ...state, assigned }]
      })).pipe(Effect.tap(notify))

    const countRecoveryAttempt: SubscriptionState["countRecoveryAttempt"] = (position) =>
      Ref.modify(ref, (state): readonly [number, State] => {
        const k = TopicPartition.key(position)
        const p = state.assigned.get(k)
        if (p === undefined || p.epoch !== position.epoch) return [0, state]
        const assigned = new Map(state.assigned)
        const attempts = p.recoveryAttempts + 1
        assigned.set(k, { ...p, recoveryAttempts: attempts, inFlight: false })
        return [attempts, { ...state, assigned }]
      }).pipe(Effect.tap(notify))

    const claim: SubscriptionState["claim"] = (owns) =>
      Ref.modify(ref, (state): readonly [ReadonlyArray<FetchPosition>, State] => {
        let assigned: Map<string, PartitionState> | undefined
        const out: Array<FetchPosition> = []
        for (const [k, p] of state.assigned) {
          if (p.paused || p.inFlight || p.fetchPosition === undefined || !owns(k)) continue
          out.push({ topic: p.topic, partition: p.partition, offset: p.fetchPosition, epoch: p.epoch })
          assigned ??= new Map(state.assigned)
          assigned.set(k, { ...p, inFlight: true })
        }
        return [out, assigned === undefined ? state : { ...state, assigned }]
      })

    const isCurrent = (p: PartitionState | undefined, position: FetchPosition): p is PartitionState =>
      p !== undefined && p.epoch === position.epoch && p.fetchPosition === position.offset && !p.paused

    const bufferFetch: SubscriptionState["bufferFetch"] = (sent, results) =>
      Ref.modify(ref, (state): readonly [BufferOutcome, State] => {
        const sentByKey = new Map<string, FetchPosition>()
        for (const s of sent) sentByKey.set(TopicPartition.key(s), s)
        const assigned = new Map(state.assigned)
        const segments: Array<Segment> = []
        const errors: Array<{ position: FetchPosition; error: PartitionFetchError }> = []
        const lags: Array<{ topic: string; partition: number; lag: bigint }> = []
        let stale = 0
        for (const result of results) {
          const k = TopicPartition.key(result)
          const position = sentByKey.get(k)
          if (position === undefined) continue
          const p = assigned.get(k)
          if (!isCurrent(p, position)) {
            stale++
            continue
          }
          if (result._tag === "Error") {
            errors.push({ position, error: result.error })
            continue
          }
          const { next, segment } = moved(result, position)
          if (segment !== undefined) segments.push({ topic: p.topic, partition: p.partition, epoch: p.epoch, ...segment })
          lags.push({ topic: p.topic, partition: p.partition, lag: result.highWatermark > next ? result.highWatermark - next : 0n })
          assigned.set(k, {
            ...p,
            fetchPosition: next,
            highWatermark: result.highWatermark,
            logStartOffset: result.logStartOffset ?? p.logStartOffset,
            recoveryAttempts: 0,
          })
        }
        return [{ segments, errors, stale, lags }, { ...state, assigned }]
      })

    const release: SubscriptionState["release"] = (sent, keep) =>
      Ref.update(ref, (state) => {
        let assigned: Map<string, PartitionState> | undefined
        for (const s of sent) {
          const k = TopicPartition.key(s)
          if (keep?.has(k)) continue
          const p = (assigned ?? state.assigned).get(k)
          if (p === undefined || p.epoch !== s.epoch || !p.inFlight) continue
          assigned ??= new Map(state.assigned)
          assigned.set(k, { ...p, inFlight: false })
        }
        return assigned === undefined ? state : { ...state, assigned }
      })

    const deliver: SubscriptionState["deliver"] = (segments) =>
      Ref.modify(ref, (state): readonly [ReadonlyArray<Segment>, State] => {
        let assigned: Map<string, PartitionState> | undefined
        const out: Array<Segment> = []
        for (const s of segments) {
          const k = TopicPartition.key(s)
          const p = (assigned ?? state.assigned).get(k)
          if (p === undefined || p.epoch !== s.epoch || p.paused || p.position !== s.from) continue
          assigned ??= new Map(state.assigned)
          assigned.set(k, { ...p, position: s.next })
          out.push(s)
        }
        return [out, assigned === undefined ? state : { ...state, assigned }]
      })

    const rewind: SubscriptionState["rewind"] = Ref.update(ref, (state) =>
      epochal((s, nextEpoch): readonly [undefined, State] => {
        const assigned = new Map<string, PartitionState>()
        for (const [k, p] of s.assigned) {
          assigned.set(
            k,
            p.fetchPosition === p.position && !p.inFlight ? p : { ...p, fetchPosition: p.position, inFlight: false, epoch: nextEpoch() },
          )
        }
        return [undefined, { ...s, assigned }]
      })(state)[1],
    ).pipe(Effect.zipRight(notify))

    const get: SubscriptionState["get"] = (tp) =>
      Effect.flatMap(Ref.get(ref), (state) => {
        const p = state.assigned.get(TopicPartition.key(tp))
        return p === undefined ? Effect.fail(notAssigned(tp, "position")) : Effect.succeed(p)
      })

    const self: SubscriptionState = {
      autoOffsetReset: options.autoOffsetReset,
      assign,
      addPartitions,
      revokePartitions,
      assignment: Effect.map(Ref.get(ref), (s) => [...s.assigned.values()].map((p) => TopicPartition.make(p.topic, p.partition))),
      isAssigned: (tp) => Effect.map(Ref.get(ref), (s) => s.assigned.has(TopicPartition.key(tp))),
      seek,
      requestReset,
      pause: (partitions) => setPaused(partitions, true),
      resume: (partitions) => setPaused(partitions, false),
      paused: Effect.map(Ref.get(ref), (s) =>
        [...s.assigned.values()].filter((p) => p.paused).map((p) => TopicPartition.make(p.topic, p.partition)),
      ),
      get,
      partitions: Effect.map(Ref.get(ref), (s) => [...s.assigned.values()]),
      intents: Effect.map(Ref.get(ref), (s) => ({ all: s.intentAll, partitions: s.intents })),
      fetchPositions,
      pendingResets,
      completeResets,
      resetPosition,
      countRecoveryAttempt,
      awaitChange: (timeoutMs) => Effect.flatMap(nextChange, (wait) => wait.pipe(Effect.timeoutOption(timeoutMs), Effect.asVoid)),
      nextChange,
      claim,
      bufferFetch,
      release,
      deliver,
      rewind,
    }
    return self
  })

/**
 * The partitions of `states` as `TopicPartition`s.
 *
 * @since 0.1.0
 * @category utils
 */
export const toTopicPartitions = (states: ReadonlyArray<{ readonly topic: string; readonly partition: number }>) =>
  states.map((p) => TopicPartition.make(p.topic, p.partition))

/**
 * `Some(offset)` when the partition has a position.
 *
 * @since 0.1.0
 * @category utils
 */
export const positionOf = (p: PartitionState): Option.Option<bigint> => Option.fromNullable(p.position)
