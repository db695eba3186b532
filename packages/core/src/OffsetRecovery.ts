/**
 * Healing an `OffsetOutOfRange` fetch answer: one ListOffsets round trip (earliest and latest, in
 * parallel) for the partitions that are out of range, then a new position by policy. The type
 * shows the policy: a `Recovery<never>` heals (its stream has no `OffsetOutOfRange` in the error
 * channel), `Recovery<OffsetOutOfRange>` (policy `fail`) hands the error to the caller.
 *
 * A failure of that ListOffsets is retried on `listOffsetsRetry` while it is retriable; when the
 * schedule gives up the failure carries the out-of-range facts (`ListOffsetsError.outOfRange`).
 *
 * @since 0.1.0
 */
import { Context, Data, Duration, Effect, Either, Layer, Schedule } from "effect"
import {
  ListOffsetsError,
  type ListOffsetsFailure,
  type OffsetOutOfRange,
  OffsetRecoveryExhausted,
} from "./KafkaError.js"
import type { OffsetReset } from "./ConsumerEvent.js"
import { OffsetLister } from "./OffsetLister.js"
import type { ListOffsetsSpec } from "./OffsetSpec.js"
import type { FetchPosition } from "./SubscriptionState.js"
import * as TopicPartition from "./TopicPartition.js"
import { attributes } from "./Tracing.js"

/**
 * Where to go when a position is out of range: `nearest` (the log start if below it, the end if
 * past it), `earliest`, `latest`, or `fail` (the stream fails with `OffsetOutOfRange`).
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = "nearest" | "earliest" | "latest" | "fail"
/**
 * The policies that move the position instead of failing.
 *
 * @since 0.1.0
 * @category models
 */
export type HealingPolicy = Exclude<Policy, "fail">

/**
 * A partition the broker answered out of range for, and how often it did so inside the listed range before.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutOfRange {
  readonly position: FetchPosition
  readonly error: OffsetOutOfRange
  /** Earlier out-of-range answers in a row for this position that lay inside the listed range. */
  readonly previousAttempts: number
}

/**
 * What recovery decided for one out-of-range partition.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision = Data.TaggedEnum<{
  /** Move to `newOffset`: `skipped` offsets will never be delivered (0 when moving back). */
  Reset: {
    readonly position: FetchPosition
    readonly requestedOffset: bigint
    readonly earliest: bigint
    readonly latest: bigint
    readonly newOffset: bigint
    readonly skipped: bigint
  }
  /** The requested offset lies inside the listed range: fetch it again as it is. */
  Refetch: {
    readonly position: FetchPosition
    readonly requestedOffset: bigint
    readonly earliest: bigint
    readonly latest: bigint
    readonly attempt: number
  }
}>
/**
 * What recovery decided for one out-of-range partition.
 *
 * @since 0.1.0
 * @category models
 */
export const Decision = Data.taggedEnum<Decision>()

/**
 * The warning a reset logs. The range is named as Kafka names its ends: `log start` is the first
 * offset still in the log, `end` the next offset to be written (the high watermark; no record has
 * it yet), so `log start 4, end 5` holds one record, at 4.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeReset = (
  reset: Pick<OffsetReset, "topic" | "partition" | "requestedOffset" | "earliest" | "latest" | "newOffset" | "skipped">,
): string =>
  `Offset out of range, resetting to ${reset.newOffset} (${reset.topic}-${reset.partition}: requested ${reset.requestedOffset}, log start ${reset.earliest}, end ${reset.latest}, skipped ${reset.skipped})`

/**
 * The ListOffsets retry schedule's type: it sees every failure, but only retriable ones reach it.
 *
 * @since 0.1.0
 * @category models
 */
export type ListOffsetsRetry = Schedule.Schedule<unknown, ListOffsetsFailure>

/**
 * An offset-recovery strategy: the policy, how ListOffsets is retried, and the decision per
 * partition. `E` is the error it can fail the stream with (`never` for a healing policy).
 *
 * @since 0.1.0
 * @category models
 */
export interface Recovery<out E> {
  readonly policy: Policy
  readonly listOffsetsRetry: ListOffsetsRetry
  /** Out-of-range answers inside the listed range tolerated per position; `undefined`: the consumer's `maxRecoveryAttempts`. */
  readonly maxAttempts: number | undefined
  readonly recover: (
    outOfRange: ReadonlyArray<OutOfRange>,
    maxAttempts: number,
  ) => Effect.Effect<ReadonlyArray<Decision>, E | ListOffsetsFailure | OffsetRecoveryExhausted, OffsetLister>
}

/**
 * Exponential from 100ms, doubling, jittered, each delay capped at 5s, at most 8 retries.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultListOffsetsRetry: ListOffsetsRetry = Schedule.exponential("100 millis", 2).pipe(
  Schedule.jittered,
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
  Schedule.intersect(Schedule.recurs(8)),
)

/**
 * Options of a recovery strategy: how ListOffsets is retried and how many recovery attempts a
 * partition gets.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  readonly listOffsetsRetry?: ListOffsetsRetry
  readonly maxAttempts?: number
}

/**
 * Whether retrying a ListOffsets failure can help.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetriable = (e: ListOffsetsFailure): boolean =>
  e._tag === "ListOffsetsError" || e._tag === "BrokerError" ? e.retriable : false

/**
 * `OffsetLister.list` retried on `schedule` while the failure is retriable.
 *
 * @since 0.1.0
 * @category offsets
 */
export const listWithRetry = (
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  spec: ListOffsetsSpec,
  schedule: ListOffsetsRetry,
) =>
  Effect.flatMap(OffsetLister, (lister) =>
    lister.list(partitions, spec).pipe(Effect.retry({ schedule, while: isRetriable })),
  )

const toMap = (entries: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>) => {
  const m = new Map<string, bigint>()
  for (const e of entries) m.set(TopicPartition.key(e), e.offset)
  return m
}

/**
 * Earliest and latest of many partitions: the two ListOffsets requests go out together, one round trip.
 *
 * @since 0.1.0
 * @category offsets
 */
export const listRange = (
  partitions: ReadonlyArray<TopicPartition.TopicPartition>,
  schedule: ListOffsetsRetry,
) =>
  Effect.flatMap(OffsetLister, (lister) =>
    // Both requests always complete (no interruption of the other on a failure), so each round
    // trip costs exactly two requests and injected faults are used up deterministically.
    Effect.all([lister.list(partitions, "earliest"), lister.list(partitions, "latest")], {
      concurrency: 2,
      mode: "either",
    }).pipe(
      Effect.flatMap(([earliest, latest]) =>
        Either.isLeft(earliest)
          ? Effect.fail(earliest.left)
          : Either.isLeft(latest)
            ? Effect.fail(latest.left)
            : Effect.succeed({ earliest: toMap(earliest.right), latest: toMap(latest.right) }),
      ),
      Effect.retry({ schedule, while: isRetriable }),
    ),
  )

const target = (policy: HealingPolicy, requested: bigint, earliest: bigint, latest: bigint): bigint => {
  switch (policy) {
    case "earliest":
      return earliest
    case "latest":
      return latest
    case "nearest":
      return requested < earliest ? earliest : latest
  }
}

const healing = (policy: HealingPolicy, options: Options = {}): Recovery<never> => {
  const listOffsetsRetry = options.listOffsetsRetry ?? defaultListOffsetsRetry
  return {
    policy,
    listOffsetsRetry,
    maxAttempts: options.maxAttempts,
    recover: (outOfRange, maxAttempts) =>
      Effect.gen(function* () {
        if (outOfRange.length === 0) return []
        const partitions = outOfRange.map((o) => TopicPartition.make(o.position.topic, o.position.partition))
        const range = yield* listRange(partitions, listOffsetsRetry).pipe(
          Effect.mapError((e) =>
            e._tag === "ListOffsetsError" && e.outOfRange === undefined
              ? new ListOffsetsError({ ...e, outOfRange: outOfRange[0]!.error })
              : e,
          ),
        )
        const decisions: Array<Decision> = []
        for (const o of outOfRange) {
          const k = TopicPartition.key(o.position)
          const earliest = range.earliest.get(k) ?? 0n
          const latest = range.latest.get(k) ?? earliest
          const requestedOffset = o.position.offset
          if (requestedOffset >= earliest && requestedOffset <= latest) {
            const attempt = o.previousAttempts + 1
            if (attempt >= maxAttempts) {
              return yield* new OffsetRecoveryExhausted({
                topic: o.position.topic,
                partition: o.position.partition,
                requestedOffset,
                earliest,
                latest,
                attempts: attempt,
              })
            }
            decisions.push(Decision.Refetch({ position: o.position, requestedOffset, earliest, latest, attempt }))
            continue
          }
          const newOffset = target(policy, requestedOffset, earliest, latest)
          const skipped = newOffset > requestedOffset ? newOffset - requestedOffset : 0n
          decisions.push(
            Decision.Reset({ position: o.position, requestedOffset, earliest, latest, newOffset, skipped }),
          )
        }
        yield* Effect.annotateCurrentSpan(decisionAttributes(decisions))
        return decisions
      }).pipe(
        Effect.withSpan("OffsetRecovery.recover", {
          attributes: {
            [attributes.system]: "kafka",
            "kafka.recovery.policy": policy,
            "messaging.kafka.partition_count": outOfRange.length,
            ...(outOfRange.length === 1 && outOfRange[0] !== undefined
              ? {
                  [attributes.topic]: outOfRange[0].position.topic,
                  [attributes.partition]: String(outOfRange[0].position.partition),
                  [attributes.offset]: Number(outOfRange[0].position.offset),
                }
              : {}),
          },
        }),
      ),
  }
}

/** What the recovery decided, on its span: the new offset and the offsets skipped (summed over partitions). */
const decisionAttributes = (decisions: ReadonlyArray<Decision>): Record<string, number> => {
  let resets = 0
  let skipped = 0n
  for (const d of decisions) {
    if (d._tag === "Reset") {
      resets++
      skipped += d.skipped
    }
  }
  const [only] = decisions
  return {
    "kafka.recovery.resets": resets,
    "kafka.recovery.refetches": decisions.length - resets,
    "kafka.recovery.offsets_skipped": Number(skipped),
    ...(decisions.length === 1 && only !== undefined
      ? {
          "kafka.recovery.earliest": Number(only.earliest),
          "kafka.recovery.latest": Number(only.latest),
          ...(only._tag === "Reset" ? { "kafka.recovery.new_offset": Number(only.newOffset) } : {}),
        }
      : {}),
  }
}

/**
 * Out of range below the log start → the log start; above the end → the end. The default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nearest = (options?: Options): Recovery<never> => healing("nearest", options)
/**
 * Out of range → the log start.
 *
 * @since 0.1.0
 * @category constructors
 */
export const earliest = (options?: Options): Recovery<never> => healing("earliest", options)
/**
 * Out of range → the log end.
 *
 * @since 0.1.0
 * @category constructors
 */
export const latest = (options?: Options): Recovery<never> => healing("latest", options)

/**
 * No healing: the stream fails with the typed `OffsetOutOfRange`, and nothing is listed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (options?: Options): Recovery<OffsetOutOfRange> => ({
  policy: "fail",
  listOffsetsRetry: options?.listOffsetsRetry ?? defaultListOffsetsRetry,
  maxAttempts: options?.maxAttempts,
  recover: (outOfRange) =>
    outOfRange.length === 0
      ? Effect.succeed([])
      : Effect.fail(outOfRange[0]!.error),
})

/**
 * A recovery by policy name; `fail` gives `Recovery<OffsetOutOfRange>`, the others `Recovery<never>`.
 *
 * @example
 * import { Consumer, OffsetRecovery } from "@kafka-effect/core"
 * import { Schedule } from "effect"
 *
 * // Out of range: the nearest end of the log; ListOffsets retried every 500 ms for up to 10 seconds.
 * const recovery = OffsetRecovery.make("nearest", {
 *   listOffsetsRetry: Schedule.spaced("500 millis").pipe(Schedule.upTo("10 seconds")),
 * })
 * assert.strictEqual(recovery.policy, "nearest")
 *
 * // The consumer fails its stream with OffsetOutOfRange instead of moving.
 * const strict = OffsetRecovery.make("fail")
 * assert.strictEqual(strict.policy, "fail")
 *
 * // Used by the consumer's layer:
 * export const consumer = Consumer.layer({ recovery })
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(policy: "fail", options?: Options): Recovery<OffsetOutOfRange>
export function make(policy: HealingPolicy, options?: Options): Recovery<never>
export function make(policy: Policy, options?: Options): Recovery<never> | Recovery<OffsetOutOfRange> {
  return policy === "fail" ? fail(options) : healing(policy, options)
}

/**
 * The healing recovery a `Consumer.layer` uses when it is provided (otherwise the consumer's
 * `offsetRecovery` setting decides). Only healing policies: a failing one is chosen in code with
 * `Consumer.make({ recovery: OffsetRecovery.fail() })`, so the stream's type shows it.
 *
 * @since 0.1.0
 * @category services
 */
export class OffsetRecovery extends Context.Tag("@kafka-effect/core/OffsetRecovery")<OffsetRecovery, Recovery<never>>() {}

/**
 * A layer that provides the `OffsetRecovery` service with a healing policy (default `nearest`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (policy: HealingPolicy = "nearest", options?: Options): Layer.Layer<OffsetRecovery> =>
  Layer.succeed(OffsetRecovery, healing(policy, options))
