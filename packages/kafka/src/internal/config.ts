/**
 * The client's options and their validation: every field checked, defaults filled in; a bad value
 * fails with `InvalidConfig` naming the field and the value (never a password).
 */
import type { ConnectionOptions } from "node:tls"
import { type Fetcher, KafkaError } from "@kafka-effect/core"
import { Duration, Either, Option, Redacted, Schedule } from "effect"

export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512"

export interface SaslOptions {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

export type KafkaLogLevel = "nothing" | "error" | "warn" | "info" | "debug"

export interface KafkaOptions {
  /** Bootstrap brokers, `host:port` each. */
  readonly brokers: ReadonlyArray<string>
  readonly clientId?: string
  /** `true` for TLS with Node's defaults, or Node's TLS connection options. */
  readonly ssl?: boolean | ConnectionOptions
  readonly sasl?: SaslOptions
  /** TCP (and TLS) connect timeout. Default 3 seconds. */
  readonly connectionTimeout?: Duration.DurationInput
  /** Per-request timeout (a Fetch adds its max wait to it). Default 30 seconds. */
  readonly requestTimeout?: Duration.DurationInput
  /** For ListOffsets: `read_committed` lists the last stable offset as latest. Default read_uncommitted. */
  readonly isolationLevel?: Fetcher.IsolationLevel
  /** Defaults for callers that build `FetchRequest`s from the client's config (e.g. the CLI). */
  readonly fetchMaxWaitMs?: number
  readonly fetchMinBytes?: number
  readonly fetchMaxBytes?: number
  readonly fetchMaxPartitionBytes?: number
  /**
   * How often partitions that lost their leader (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE,
   * UNKNOWN_TOPIC_OR_PARTITION, …) are retried after a metadata refresh, inside one `fetch` or
   * `list`. Connection failures and timeouts are not retried here: a Fetch gives the failed
   * leader's partitions a retriable per-partition FetchError (the whole call fails only when every
   * leader failed), a ListOffsets fails with a retriable ListOffsetsError, for the caller's
   * schedule, and the next call refreshes metadata first. Default: exponential from 50ms, jittered,
   * 8 retries.
   */
  readonly retrySchedule?: Schedule.Schedule<unknown, unknown>
  /** The least severe kafkajs log entry routed into Effect's logger. Default "warn". */
  readonly logLevel?: KafkaLogLevel
  /**
   * Verify the CRC-32C of every fetched record batch before delivering it (Java's `check.crcs`); a
   * mismatch is a `CorruptRecordBatch` for its partition. Default true.
   */
  readonly checkCrcs?: boolean
}

/** The validated options. */
export interface KafkaConfig {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl: boolean | ConnectionOptions
  readonly sasl: SaslOptions | undefined
  readonly connectionTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly isolationLevel: Fetcher.IsolationLevel
  readonly fetchMaxWaitMs: number
  readonly fetchMinBytes: number
  readonly fetchMaxBytes: number
  readonly fetchMaxPartitionBytes: number
  readonly retrySchedule: Schedule.Schedule<unknown, unknown>
  readonly logLevel: KafkaLogLevel
  readonly checkCrcs: boolean
}

export const defaultRetrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential("50 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(8)),
)

const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/

const invalid = (field: string, value: unknown, reason: string) =>
  Either.left(new KafkaError.InvalidConfig({ field, value, reason }))

const positiveInt = (field: string, value: number | undefined, fallback: number) =>
  value === undefined
    ? Either.right(fallback)
    : Number.isSafeInteger(value) && value > 0
      ? Either.right(value)
      : invalid(field, value, "must be a positive integer")

const millis = (field: string, value: Duration.DurationInput | undefined, fallback: number) => {
  if (value === undefined) return Either.right(fallback)
  const d = Duration.decodeUnknown(value)
  if (Option.isNone(d) || !Duration.isFinite(d.value)) return invalid(field, value, "must be a finite duration")
  const ms = Duration.toMillis(d.value)
  return ms >= 1 && ms <= 2_147_483_647 ? Either.right(Math.round(ms)) : invalid(field, value, "must be between 1ms and 2^31-1 ms")
}

/** Checks every option; the error names the first bad field and its value (never a password). */
export const validate = (options: KafkaOptions): Either.Either<KafkaConfig, KafkaError.InvalidConfig> =>
  Either.gen(function* () {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      return yield* invalid("brokers", options.brokers, "at least one host:port is required")
    }
    for (const b of options.brokers) {
      const m = typeof b === "string" ? hostPort.exec(b.trim()) : null
      const port = m ? Number(m[2]) : 0
      if (!m || port < 1 || port > 65535) return yield* invalid("brokers", b, "expected host:port with a port in 1..65535")
    }
    const clientId = options.clientId ?? "kafka-effect"
    if (typeof clientId !== "string" || clientId.length === 0) {
      return yield* invalid("clientId", clientId, "must be a non-empty string")
    }
    const ssl = options.ssl ?? false
    if (typeof ssl !== "boolean" && (typeof ssl !== "object" || ssl === null)) {
      return yield* invalid("ssl", ssl, "must be a boolean or TLS connection options")
    }
    const sasl = options.sasl
    if (sasl !== undefined) {
      if (!["plain", "scram-sha-256", "scram-sha-512"].includes(sasl.mechanism)) {
        return yield* invalid("sasl.mechanism", sasl.mechanism, "must be plain, scram-sha-256 or scram-sha-512")
      }
      if (typeof sasl.username !== "string" || sasl.username.length === 0) {
        return yield* invalid("sasl.username", sasl.username, "must be a non-empty string")
      }
      if (!Redacted.isRedacted(sasl.password)) {
        return yield* invalid("sasl.password", "<not shown>", "must be a Redacted string")
      }
    }
    const isolationLevel = options.isolationLevel ?? "read_uncommitted"
    if (isolationLevel !== "read_uncommitted" && isolationLevel !== "read_committed") {
      return yield* invalid("isolationLevel", isolationLevel, "must be read_uncommitted or read_committed")
    }
    const logLevel = options.logLevel ?? "warn"
    if (!["nothing", "error", "warn", "info", "debug"].includes(logLevel)) {
      return yield* invalid("logLevel", logLevel, "must be nothing, error, warn, info or debug")
    }
    const checkCrcs = options.checkCrcs ?? true
    if (typeof checkCrcs !== "boolean") return yield* invalid("checkCrcs", checkCrcs, "must be a boolean")
    return {
      brokers: options.brokers.map((b) => b.trim()),
      clientId,
      ssl,
      sasl,
      connectionTimeoutMs: yield* millis("connectionTimeout", options.connectionTimeout, 3_000),
      requestTimeoutMs: yield* millis("requestTimeout", options.requestTimeout, 30_000),
      isolationLevel,
      fetchMaxWaitMs: yield* positiveInt("fetchMaxWaitMs", options.fetchMaxWaitMs, 500),
      fetchMinBytes: yield* positiveInt("fetchMinBytes", options.fetchMinBytes, 1),
      fetchMaxBytes: yield* positiveInt("fetchMaxBytes", options.fetchMaxBytes, 52_428_800),
      fetchMaxPartitionBytes: yield* positiveInt("fetchMaxPartitionBytes", options.fetchMaxPartitionBytes, 1_048_576),
      retrySchedule: options.retrySchedule ?? defaultRetrySchedule,
      logLevel,
      checkCrcs,
    }
  })
