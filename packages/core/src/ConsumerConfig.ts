/**
 * Consumer settings, validated with `Schema`: a wrong value fails at start with `InvalidConfig`
 * naming the field and the value. Schedules (retries) are code, not config: see `Consumer.make`
 * and `OffsetRecovery`.
 */
import { Config, Effect, Either, ParseResult, Schema } from "effect"
import { InvalidConfig } from "./KafkaError.js"

const nonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const positiveInt = Schema.Int.pipe(Schema.positive())

/** Where a partition with no committed offset starts. `none`: fetching it fails with `NoOffsetForPartition`. */
export const AutoOffsetReset = Schema.Literal("earliest", "latest", "none")
export type AutoOffsetReset = typeof AutoOffsetReset.Type

/** The healing recovery policies that a configuration may choose (`fail` is chosen in code, so the type shows it). */
export const RecoveryPolicy = Schema.Literal("nearest", "earliest", "latest")
export type RecoveryPolicy = typeof RecoveryPolicy.Type

export const ConsumerConfig = Schema.Struct({
  /** How long the broker may hold a fetch that has less than `minBytes` to answer. */
  maxWaitMs: Schema.optionalWith(nonNegativeInt, { default: () => 500 }),
  minBytes: Schema.optionalWith(nonNegativeInt, { default: () => 1 }),
  /** Response byte limit (`fetch.max.bytes`). */
  maxBytes: Schema.optionalWith(positiveInt, { default: () => 52_428_800 }),
  /** Per-partition byte limit (`max.partition.fetch.bytes`). */
  maxPartitionBytes: Schema.optionalWith(positiveInt, { default: () => 1_048_576 }),
  isolationLevel: Schema.optionalWith(Schema.Literal("read_uncommitted", "read_committed"), {
    default: (): "read_uncommitted" => "read_uncommitted",
  }),
  autoOffsetReset: Schema.optionalWith(AutoOffsetReset, { default: (): "latest" => "latest" }),
  /** The healing policy used when no `OffsetRecovery` is given in code. */
  offsetRecovery: Schema.optionalWith(RecoveryPolicy, { default: (): "nearest" => "nearest" }),
  /** Times the broker may answer out of range for an offset inside the listed range before recovery gives up. */
  maxRecoveryAttempts: Schema.optionalWith(positiveInt, { default: () => 3 }),
  /** Pause before fetching again after a retriable per-partition error (e.g. NOT_LEADER). */
  retryBackoffMs: Schema.optionalWith(nonNegativeInt, { default: () => 100 }),
})

/** The validated configuration, every field present. */
export type ConsumerConfig = typeof ConsumerConfig.Type
/** What a user writes: every field optional. */
export type Input = typeof ConsumerConfig.Encoded

const fieldNames: ReadonlyArray<keyof Input> = [
  "maxWaitMs",
  "minBytes",
  "maxBytes",
  "maxPartitionBytes",
  "isolationLevel",
  "autoOffsetReset",
  "offsetRecovery",
  "maxRecoveryAttempts",
  "retryBackoffMs",
]

const decodeEither = Schema.decodeUnknownEither(ConsumerConfig, { errors: "first", onExcessProperty: "error" })

const toInvalidConfig = (input: unknown, error: ParseResult.ParseError): InvalidConfig => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const field = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join(".") : "(config)"
  const head = issue?.path[0]
  const value =
    head !== undefined && typeof input === "object" && input !== null && Object.hasOwn(input, head)
      ? Reflect.get(input, head)
      : input
  return new InvalidConfig({ field, value, reason: issue?.message ?? error.message })
}

/** Validates a configuration; the failure names the first wrong field and its value. */
export const decode = (input: unknown): Effect.Effect<ConsumerConfig, InvalidConfig> =>
  Either.match(decodeEither(input), {
    onLeft: (error) => Effect.fail(toInvalidConfig(input, error)),
    onRight: Effect.succeed,
  })

/** Same as `decode`, synchronously. */
export const decodeSync = (input: unknown): Either.Either<ConsumerConfig, InvalidConfig> =>
  Either.mapLeft(decodeEither(input), (error) => toInvalidConfig(input, error))

/** All defaults. */
export const defaults: ConsumerConfig = Either.getOrThrow(decodeSync({}))

// Numbers arrive from a ConfigProvider as strings; a string that is not a number is passed on as
// is, so the schema's failure names it.
const fromConfigString = (raw: string): string | number => {
  const n = Number(raw)
  return raw.trim() !== "" && !Number.isNaN(n) ? n : raw
}

/**
 * Reads the fields from the current `ConfigProvider` (keys as the field names, e.g. `maxWaitMs`;
 * nest with `Config.nested("kafka")`), without validating them: `decode` does that.
 */
export const config: Config.Config<Record<string, string | number>> = Config.all(
  fieldNames.map((name) =>
    Config.option(Config.string(name)).pipe(Config.map((value) => ({ name, value }))),
  ),
).pipe(
  Config.map((entries) => {
    const out: Record<string, string | number> = {}
    for (const { name, value } of entries) {
      if (value._tag === "Some") out[name] = fromConfigString(value.value)
    }
    return out
  }),
)
