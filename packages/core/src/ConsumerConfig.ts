/**
 * Consumer settings, validated with `Schema`: a wrong value fails at start with `InvalidConfig`
 * naming the field and the value. Durations are `Duration.DurationInput` ("250 millis", `250` for
 * milliseconds), decoded to `Duration`. This is the one place for fetch tuning (wait, sizes,
 * isolation); the client's options (`KafkaOptions`) say how to reach the cluster. Schedules
 * (retries) are code, not config: see `Consumer.make` and `OffsetRecovery`.
 */
import type { Config, Effect, Either } from "effect"
import { Duration, Schema } from "effect"
import type { InvalidConfig } from "./KafkaError.js"
import * as Settings from "./Settings.js"

/** Where a partition with no committed offset starts. `none`: fetching it fails with `NoOffsetForPartition`. */
export const AutoOffsetReset = Settings.oneOf("earliest", "latest", "none")
export type AutoOffsetReset = typeof AutoOffsetReset.Type

/** The healing recovery policies that a configuration may choose (`fail` is chosen in code, so the type shows it). */
export const RecoveryPolicy = Settings.oneOf("nearest", "earliest", "latest")
export type RecoveryPolicy = typeof RecoveryPolicy.Type

export const IsolationLevel = Settings.oneOf("read_uncommitted", "read_committed")

export const ConsumerConfig = Schema.Struct({
  /** How long the broker may hold a fetch that has less than `minBytes` to answer (`fetch.max.wait.ms`). Default 500 millis. */
  maxWait: Schema.optionalWith(Settings.duration(), { default: () => Duration.millis(500) }),
  /** The least data a broker should gather before answering a fetch (`fetch.min.bytes`). Default 1. */
  minBytes: Schema.optionalWith(Settings.nonNegativeInt, { default: () => 1 }),
  /** Response byte limit (`fetch.max.bytes`). Default 50 MiB. */
  maxBytes: Schema.optionalWith(Settings.positiveInt, { default: () => 52_428_800 }),
  /**
   * The byte budget of the buffer between the fetch loops and the stream (key and value bytes of
   * records fetched and not yet delivered). A loop sends its next fetch only while the buffer is
   * below it, asking for at most the room left, so a slow consumer holds about this much (plus at
   * most one batch a broker sends whole). Default 2 × `maxBytes`.
   */
  fetchBufferBytes: Schema.optional(Settings.positiveInt),
  /** Per-partition byte limit (`max.partition.fetch.bytes`). Default 1 MiB. */
  maxPartitionBytes: Schema.optionalWith(Settings.positiveInt, { default: () => 1_048_576 }),
  /** `read_committed` hides aborted transactions and stops at the last stable offset. */
  isolationLevel: Schema.optionalWith(IsolationLevel, {
    default: (): "read_uncommitted" => "read_uncommitted",
  }),
  autoOffsetReset: Schema.optionalWith(AutoOffsetReset, { default: (): "latest" => "latest" }),
  /** The healing policy used when no `OffsetRecovery` is given in code. */
  offsetRecovery: Schema.optionalWith(RecoveryPolicy, { default: (): "nearest" => "nearest" }),
  /** Times the broker may answer out of range for an offset inside the listed range before recovery gives up. */
  maxRecoveryAttempts: Schema.optionalWith(Settings.positiveInt, { default: () => 3 }),
  /** Pause before fetching again after a retriable per-partition error (e.g. NOT_LEADER). Default 100 millis. */
  retryBackoff: Schema.optionalWith(Settings.duration(), { default: () => Duration.millis(100) }),
})

/** The validated configuration, every field present. */
export type ConsumerConfig = typeof ConsumerConfig.Type
/** What a user writes: every field optional. */
export type Input = typeof ConsumerConfig.Encoded

const fieldNames: ReadonlyArray<keyof Input> = [
  "maxWait",
  "minBytes",
  "maxBytes",
  "fetchBufferBytes",
  "maxPartitionBytes",
  "isolationLevel",
  "autoOffsetReset",
  "offsetRecovery",
  "maxRecoveryAttempts",
  "retryBackoff",
]

const decoder = Settings.decoder(ConsumerConfig)

/** Validates a configuration; the failure names the first wrong field and its value. */
export const decode: (input: unknown) => Effect.Effect<ConsumerConfig, InvalidConfig> = decoder.decode

/** Same as `decode`, synchronously. */
export const decodeSync: (input: unknown) => Either.Either<ConsumerConfig, InvalidConfig> = decoder.decodeSync

/** All defaults. */
export const defaults: ConsumerConfig = Schema.decodeSync(ConsumerConfig)({})

/**
 * Reads the fields from the current `ConfigProvider` (keys as the field names, e.g. `maxWait` as
 * "250 millis" or 250; nest with `Config.nested("kafka")`), without validating them: `decode` does that.
 */
export const config: Config.Config<Record<string, string | number | boolean>> = Settings.fields(fieldNames)
