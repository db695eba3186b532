/**
 * The bounded buffer between a consumer's fetch loops and its stream: answers (one entry per
 * fetch, its partitions as segments) and failures, in the order the loops put them in, with a byte
 * budget. A loop reserves room before it fetches (at most the room left) and the reservation
 * becomes the answer's bytes when it is buffered, so what is buffered stays within the budget plus
 * what a broker sends beyond a request's limit (a first batch larger than the limit comes whole).
 */
import { type Cause, Deferred, Effect, Metric, Option, Queue, Ref } from "effect"
import * as ConsumerMetrics from "../ConsumerMetrics.js"
import type { Segment } from "../SubscriptionState.js"

export type Entry<E> =
  | { readonly _tag: "Answer"; readonly segments: ReadonlyArray<Segment>; readonly bytes: number }
  | { readonly _tag: "Failure"; readonly cause: Cause.Cause<E> }
  /** The consumer closed: wakes a stream waiting for the next entry (it then fails with ConsumerClosed). */
  | { readonly _tag: "Closed" }

/** A broadcast wake-up: `next` is read before looking at what it guards, `notify` wakes every waiter. */
export interface Signal {
  readonly next: Effect.Effect<Effect.Effect<void>>
  readonly notify: Effect.Effect<void>
}

export const makeSignal: Effect.Effect<Signal> = Effect.gen(function* () {
  const current = yield* Ref.make(yield* Deferred.make<void>())
  return {
    next: Effect.map(Ref.get(current), (d) => Deferred.await(d)),
    notify: Effect.flatMap(Deferred.make<void>(), (fresh) =>
      Effect.flatMap(Ref.getAndSet(current, fresh), (old) => Deferred.succeed(old, undefined)),
    ),
  }
})

export interface FetchBuffer<E> {
  readonly budget: number
  /** Waits until there is room, then reserves at most `max` bytes (at least 1) for one fetch. */
  readonly reserve: (max: number) => Effect.Effect<number>
  /** Gives a reservation back (the fetch failed or brought nothing). */
  readonly cancel: (reserved: number) => Effect.Effect<void>
  /** Buffers an answer in place of its reservation. */
  readonly offer: (entry: Entry<E>, reserved: number) => Effect.Effect<void>
  /** The next entry, waiting for one. */
  readonly take: Effect.Effect<Entry<E>>
  /** The next entry, if one is there. */
  readonly poll: Effect.Effect<Option.Option<Entry<E>>>
  /** Bytes buffered and not yet taken. */
  readonly bytes: Effect.Effect<number>
}

interface Room {
  readonly bytes: number
  readonly reserved: number
}

export const make = <E>(budget: number): Effect.Effect<FetchBuffer<E>> =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<Entry<E>>()
    const room = yield* Ref.make<Room>({ bytes: 0, reserved: 0 })
    const freed = yield* makeSignal
    const gauge = ConsumerMetrics.fetchBufferBytes

    const reserve = (max: number): Effect.Effect<number> =>
      Effect.flatMap(freed.next, (wait) =>
        Effect.flatMap(
          Ref.modify(room, (r): readonly [number, Room] => {
            const left = budget - r.bytes - r.reserved
            if (left <= 0) return [0, r]
            const granted = Math.max(1, Math.min(max, left))
            return [granted, { ...r, reserved: r.reserved + granted }]
          }),
          (granted) => (granted > 0 ? Effect.succeed(granted) : Effect.zipRight(wait, reserve(max))),
        ),
      )

    const cancel = (reserved: number) =>
      reserved === 0
        ? Effect.void
        : Effect.zipRight(
            Ref.update(room, (r) => ({ ...r, reserved: r.reserved - reserved })),
            freed.notify,
          )

    const offer = (entry: Entry<E>, reserved: number) =>
      Effect.gen(function* () {
        const bytes = entry._tag === "Answer" ? entry.bytes : 0
        const now = yield* Ref.modify(room, (r): readonly [number, Room] => {
          const next = { bytes: r.bytes + bytes, reserved: r.reserved - reserved }
          return [next.bytes, next]
        })
        yield* Queue.offer(queue, entry)
        if (bytes > 0) yield* Metric.set(gauge, now)
        if (bytes < reserved) yield* freed.notify
      })

    const taken = (entry: Entry<E>) =>
      entry._tag === "Answer" && entry.bytes > 0
        ? Effect.gen(function* () {
            const now = yield* Ref.modify(room, (r): readonly [number, Room] => {
              const next = { ...r, bytes: r.bytes - entry.bytes }
              return [next.bytes, next]
            })
            yield* Metric.set(gauge, now)
            yield* freed.notify
            return entry
          })
        : Effect.succeed(entry)

    return {
      budget,
      reserve,
      cancel,
      offer,
      take: Effect.flatMap(Queue.take(queue), taken),
      poll: Effect.flatMap(Queue.poll(queue), Option.match({ onNone: () => Effect.succeedNone, onSome: (e) => Effect.asSome(taken(e)) })),
      bytes: Effect.map(Ref.get(room), (r) => r.bytes),
    }
  })

/** What the buffer counts for a record beside its key and value (so records without bytes are bounded too). */
export const recordOverhead = 16

/**
 * A segment's key and value bytes plus `recordOverhead` a record: what the buffer counts (for
 * deferred records, the bytes they take in the answer plus the overhead of as many records as the
 * batches hold).
 */
export const segmentBytes = (segment: Segment): number =>
  (segment.deferred === undefined ? segment.records.length : segment.deferred.count) * recordOverhead + segment.bytes
