/**
 * The client's options as a `Schema`: every field checked, defaults filled in; a bad value fails
 * with `InvalidConfig` naming the field and the value (never a password). Durations are
 * `Duration.DurationInput`, as everywhere. Fetch tuning (wait, sizes) is the consumer's
 * (`ConsumerConfig`), not the client's.
 */
import type { ConnectionOptions } from "node:tls"
import { type KafkaError, Settings } from "@kafka-effect/core"
import { Config, Duration, type Effect, type Either, Option, Redacted, Schedule, Schema } from "effect"

export const SaslMechanism = Settings.oneOf("plain", "scram-sha-256", "scram-sha-512")
export type SaslMechanism = typeof SaslMechanism.Type

const RedactedString = Schema.declare(
  (u: unknown): u is Redacted.Redacted<string> => Redacted.isRedacted(u),
  { message: () => "must be a Redacted string (Redacted.make), so that it is never logged" },
)

export const SaslOptions = Schema.Struct({
  mechanism: SaslMechanism,
  username: Settings.nonEmptyString,
  password: RedactedString,
})
export type SaslOptions = typeof SaslOptions.Type

export const KafkaLogLevel = Settings.oneOf("nothing", "error", "warn", "info", "debug")
export type KafkaLogLevel = typeof KafkaLogLevel.Type

const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/

const Broker = Schema.compose(Schema.Trim, Schema.String).pipe(
  Schema.filter((b) => {
    const m = hostPort.exec(b)
    const port = m ? Number(m[2]) : 0
    return (m !== null && port >= 1 && port <= 65535) || "expected host:port with a port in 1..65535"
  }),
)

const TlsOptions = Schema.declare(
  (u: unknown): u is ConnectionOptions => typeof u === "object" && u !== null && !Array.isArray(u),
  { message: () => "must be a boolean or TLS connection options" },
)

const RetrySchedule = Schema.declare(
  (u: unknown): u is Schedule.Schedule<unknown, unknown> => Schedule.isSchedule(u),
  { message: () => "must be a Schedule" },
)

export const defaultRetrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(8)),
)

export const KafkaOptions = Schema.Struct({
  /** Bootstrap brokers, `host:port` each. */
  brokers: Schema.Array(Broker).pipe(Schema.minItems(1, { message: () => "at least one host:port is required" })),
  clientId: Schema.optionalWith(Settings.nonEmptyString, { default: () => "kafka-effect" }),
  /** `true` for TLS with Node's defaults, or Node's TLS connection options. */
  ssl: Schema.optionalWith(Schema.Union(Schema.Boolean, TlsOptions), { default: () => false }),
  sasl: Schema.optional(SaslOptions),
  /** TCP (and TLS) connect timeout. Default 3 seconds. */
  connectionTimeout: Schema.optionalWith(Settings.duration({ min: 1 }), { default: () => Duration.seconds(3) }),
  /** Per-request timeout (a Fetch adds its max wait to it). Default 30 seconds. */
  requestTimeout: Schema.optionalWith(Settings.duration({ min: 1 }), { default: () => Duration.seconds(30) }),
  /**
   * For ListOffsets: `read_committed` lists the last stable offset as latest. Default
   * read_uncommitted. Give a consumer that reads committed data the same in its `ConsumerConfig`.
   */
  isolationLevel: Schema.optionalWith(
    Settings.oneOf("read_uncommitted", "read_committed"),
    { default: (): "read_uncommitted" => "read_uncommitted" },
  ),
  /**
   * How often partitions that lost their leader (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE,
   * UNKNOWN_TOPIC_OR_PARTITION, …) are retried after a metadata refresh, inside one `fetch` or
   * `list`. Connection failures and timeouts are not retried here: a Fetch gives the failed
   * leader's partitions a retriable per-partition FetchError (the whole call fails only when every
   * leader failed), a ListOffsets fails with a retriable ListOffsetsError, for the caller's
   * schedule, and the next call refreshes metadata first. Default: exponential from 50ms, jittered,
   * 8 retries.
   */
  retrySchedule: Schema.optionalWith(RetrySchedule, { default: () => defaultRetrySchedule }),
  /** The least severe kafkajs log entry routed into Effect's logger. Default "warn". */
  logLevel: Schema.optionalWith(KafkaLogLevel, { default: (): "warn" => "warn" }),
})

/** What a user writes. */
export type KafkaOptions = typeof KafkaOptions.Encoded
/** The validated options, every field present. */
export type KafkaConfig = typeof KafkaOptions.Type

const decoder = Settings.decoder(KafkaOptions)

/** Checks every option; the error names the first bad field and its value (never a password). */
export const validate: (options: unknown) => Either.Either<KafkaConfig, KafkaError.InvalidConfig> = decoder.decodeSync

/** The same, as an Effect. */
export const decode: (options: unknown) => Effect.Effect<KafkaConfig, KafkaError.InvalidConfig> = decoder.decode

/**
 * Reads the options from the current `ConfigProvider`, keys as the field names (`brokers` as a
 * comma-separated list, `clientId`, `ssl`, `connectionTimeout` as "3 seconds" or milliseconds,
 * `requestTimeout`, `isolationLevel`, `logLevel`, and `sasl.mechanism`, `sasl.username`,
 * `sasl.password`); nest with `Config.nested("kafka")`. `validate` checks them.
 */
export const config: Config.Config<Record<string, unknown>> = Config.all({
  brokers: Config.array(Config.string(), "brokers"),
  scalars: Settings.fields(["clientId", "ssl", "connectionTimeout", "requestTimeout", "isolationLevel", "logLevel"]),
  sasl: Config.option(
    Config.all({
      mechanism: Config.string("mechanism"),
      username: Config.string("username"),
      password: Config.redacted("password"),
    }).pipe(Config.nested("sasl")),
  ),
}).pipe(
  Config.map(({ brokers, scalars, sasl }): Record<string, unknown> => ({
    brokers,
    ...scalars,
    ...(Option.isSome(sasl) ? { sasl: sasl.value } : {}),
  })),
)
