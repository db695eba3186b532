/**
 * The live layer: core's `Fetcher` and `OffsetLister` over a real Kafka cluster, spoken through
 * kafkajs's cluster, broker and protocol modules. kafkajs's retrier is off; retries are Effect
 * Schedules. Fetch and ListOffsets answers are decoded here, without kafkajs's `parse`, so one errored
 * partition never costs the others their records.
 */
import type { ConnectionOptions } from "node:tls"
import {
  Fetcher,
  KafkaError,
  OffsetLister,
  type OffsetSpec,
  TopicPartition,
} from "@kafka-effect/core"
import {
  Clock,
  Config,
  type ConfigError,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Layer,
  Metric,
  Option,
  Redacted,
  Schedule,
  type Scope,
} from "effect"
import * as Errors from "./internal/errors.js"
import { decodeFetchResponse, partitionRecords, type RawFetchResponse } from "./internal/fetchResponse.js"
import { scopedCluster } from "./internal/cluster.js"
import * as K from "./internal/kafkajs.js"

// ---------------------------------------------------------------------------------------------
// options

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
    }
  })

// ---------------------------------------------------------------------------------------------
// the service

/** Metadata could not be loaded (no broker reachable, timeout). */
export class MetadataError extends Data.TaggedError("MetadataError")<{
  readonly topics: ReadonlyArray<string>
  readonly reason: KafkaError.TransportReason
  readonly retriable: boolean
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Metadata request failed (${this.reason}) for ${this.topics.join(", ")}`
  }
}

export interface KafkaClientService {
  readonly config: KafkaConfig
  readonly fetch: Context.Tag.Service<Fetcher.Fetcher>["fetch"]
  readonly listOffsets: Context.Tag.Service<OffsetLister.OffsetLister>["list"]
  /** The partition ids of a topic, from metadata. */
  readonly partitionsFor: (
    topic: string,
  ) => Effect.Effect<
    ReadonlyArray<number>,
    MetadataError | KafkaError.UnknownTopicOrPartition | KafkaError.TopicAuthorizationFailed
  >
  /** A FetchRequest for these positions with the client's configured wait and sizes. */
  readonly fetchRequest: (positions: ReadonlyArray<TopicPartition.TopicPartition & { readonly offset: bigint }>) => Fetcher.FetchRequest
}

export class KafkaClient extends Context.Tag("@kafka-effect/kafka/KafkaClient")<KafkaClient, KafkaClientService>() {}

/** Records delivered by `fetch`, and Fetch requests sent to brokers (one per leader per cycle). */
export const metrics = {
  recordsFetched: Metric.counter("kafka_fetch_records", { description: "records delivered by Fetch" }),
  fetchRequests: Metric.counter("kafka_fetch_requests", { description: "Fetch requests sent to brokers" }),
} as const
const { recordsFetched, fetchRequests } = metrics

const isolationCode = (level: Fetcher.IsolationLevel): number => (level === "read_committed" ? 1 : 0)

interface Pending {
  readonly fetch: Fetcher.FetchPartition
  readonly error: KafkaError.PartitionFetchError
}

/**
 * A broker whose last Fetch request failed below the protocol level: until `until` (Clock millis)
 * its partitions are answered at once with `error`, as long as other leaders are there to fetch from.
 */
interface BrokerBackoff {
  readonly failures: number
  readonly until: number
  readonly error: KafkaError.FetchError
}

/** Per-broker Fetch backoff after a transport failure: exponential from 100ms, capped at 2s, reset on success. */
export const brokerBackoffBaseMs = 100
export const brokerBackoffMaxMs = 2_000
const brokerBackoffMs = (failures: number): number =>
  Math.min(brokerBackoffBaseMs * 2 ** Math.min(failures - 1, 20), brokerBackoffMaxMs)

const tryKafka = <A>(f: () => Promise<A>): Effect.Effect<A, unknown> => Effect.tryPromise({ try: f, catch: (e) => e })

/** Builds the client over a kafkajs cluster that lives as long as the scope. */
export const make = (options: KafkaOptions): Effect.Effect<KafkaClientService, KafkaError.InvalidConfig, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* validate(options)
    const cluster = yield* scopedCluster(config, {
      clientId: config.clientId,
      isolationLevel: isolationCode(config.isolationLevel),
    })

    /** Loads metadata for these topics; topics that do not exist or are not authorized are returned. */
    const ensureTopics = (topics: ReadonlyArray<string>) =>
      tryKafka(async () => {
        const failed = new Map<string, unknown>()
        if (!cluster.isConnected()) await cluster.connect()
        const missing = topics.filter((t) => !cluster.targetTopics.has(t))
        if (missing.length === 0) return failed
        try {
          await cluster.addMultipleTargetTopics(missing)
        } catch (e) {
          if (Errors.topicMetadataError(e, "") === undefined) throw e
          // One bad topic fails the whole metadata answer: find out which.
          for (const t of missing) {
            try {
              await cluster.addMultipleTargetTopics([t])
            } catch (e1) {
              if (Errors.topicMetadataError(e1, t) === undefined) throw e1
              failed.set(t, e1)
            }
          }
        }
        return failed
      })

    const refreshMetadata = tryKafka(() => cluster.refreshMetadata()).pipe(
      Effect.catchAll((e) => Effect.logDebug("kafka: metadata refresh failed", String(e))),
    )

    // partition → leader per topic, indexed once per metadata answer (the arrays change on refresh).
    const leaderIndex = new WeakMap<ReadonlyArray<K.PartitionMetadata>, Map<number, number>>()
    const leaderOf = (topic: string, partition: number): number | undefined => {
      let partitions: ReadonlyArray<K.PartitionMetadata>
      try {
        partitions = cluster.findTopicPartitionMetadata(topic)
      } catch {
        return undefined
      }
      let index = leaderIndex.get(partitions)
      if (index === undefined) {
        index = new Map()
        for (const m of partitions) if (m.leader !== null && m.leader >= 0) index.set(m.partitionId, m.leader)
        leaderIndex.set(partitions, index)
      }
      return index.get(partition)
    }

    const dropConnectionIfClosed = (broker: K.Broker, e: unknown) =>
      Effect.promise(async () => {
        if (Errors.classify(e)._tag === "Transport") await broker.disconnect().catch(() => undefined)
      })

    // -----------------------------------------------------------------------------------------
    // Fetch

    const fetchFromBroker = (
      nodeId: number,
      parts: ReadonlyArray<Fetcher.FetchPartition>,
      request: Fetcher.FetchRequest,
    ): Effect.Effect<Either.Either<RawFetchResponse, KafkaError.FetchError>, KafkaError.CorruptResponse> =>
      Effect.gen(function* () {
        const tps = parts.map((p) => TopicPartition.make(p.topic, p.partition))
        const broker = yield* tryKafka(() => cluster.findBroker({ nodeId }))
        const byTopic = new Map<string, Array<{ partition: number; fetchOffset: string; maxBytes: number }>>()
        for (const p of parts) {
          const entry = { partition: p.partition, fetchOffset: p.offset.toString(), maxBytes: p.maxBytes }
          const list = byTopic.get(p.topic)
          if (list) list.push(entry)
          else byTopic.set(p.topic, [entry])
        }
        const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
        const proto = K.fetchRequest(broker, {
          replicaId: -1,
          isolationLevel: isolationCode(request.isolationLevel),
          maxWaitTime: request.maxWaitMs,
          minBytes: request.minBytes,
          maxBytes: request.maxBytes,
          topics,
        })
        const version = proto.request.apiVersion
        if (version < 4) {
          return yield* Errors.corruptResponse("Fetch", `broker ${nodeId} offers Fetch v${version}; v4 (Kafka 0.11) or newer is required`)
        }
        yield* Metric.increment(fetchRequests)
        const send = tryKafka(() =>
          K.send(broker, proto, {
            decode: (payload) => decodeFetchResponse(payload, version),
            parse: (decoded) => Promise.resolve(decoded),
          }),
        ).pipe(Effect.tapError((e) => dropConnectionIfClosed(broker, e)))
        // A broker that failed before is probed with a short timeout, so that a broker that swallows
        // requests does not hold the healthy leaders' answers for a whole request timeout each time.
        const answer = backoffs.has(nodeId)
          ? yield* send.pipe(
              Effect.timeoutFail({
                duration: Duration.millis(request.maxWaitMs + config.connectionTimeoutMs),
                onTimeout: () =>
                  new KafkaError.FetchError({ partitions: tps, reason: "Timeout", retriable: true, brokerId: nodeId }),
              }),
            )
          : yield* send
        // A top-level error (Fetch v7+) with no partitions is a session-level failure; when the
        // partitions are there they carry their own codes (librdkafka's mock sets both).
        if (answer.errorCode !== 0 && answer.partitions.length === 0) {
          return Either.left(Errors.fetchSessionError(answer.errorCode, tps, nodeId))
        }
        return Either.right(answer)
      }).pipe(
        Effect.catchAll((e) =>
          e instanceof KafkaError.CorruptResponse
            ? Effect.fail(e)
            : e instanceof KafkaError.FetchError
              ? Effect.succeed(Either.left(e))
              : Errors.isDecodeFailure(e)
              ? Effect.fail(Errors.corruptResponse("Fetch", String(e), e))
              : Effect.succeed(
                  Either.left(
                    Errors.fetchError(
                      e,
                      parts.map((p) => TopicPartition.make(p.topic, p.partition)),
                      nodeId,
                    ),
                  ),
                ),
        ),
      )

    const backoffs = new Map<number, BrokerBackoff>()

    const fetchRound = (request: Fetcher.FetchRequest, pending: ReadonlyArray<Fetcher.FetchPartition>) =>
      Effect.gen(function* () {
        const done: Array<Fetcher.PartitionFetchResult> = []
        const retry: Array<Pending> = []
        /** Partitions whose leader could not be reached (connection, timeout): not retried in this call. */
        const unreachable: Array<{ readonly fetch: Fetcher.FetchPartition; readonly error: KafkaError.FetchError }> = []
        const topics = [...new Set(pending.map((p) => p.topic))]
        const ensured = yield* Effect.either(ensureTopics(topics))
        if (Either.isLeft(ensured)) {
          const error = Errors.fetchError(
            ensured.left,
            pending.map((p) => TopicPartition.make(p.topic, p.partition)),
            undefined,
          )
          return { done, retry, unreachable: pending.map((fetch) => ({ fetch, error })) }
        }
        const byLeader = new Map<number, Array<Fetcher.FetchPartition>>()
        for (const p of pending) {
          const topicFailure = ensured.right.get(p.topic)
          if (topicFailure !== undefined) {
            const error =
              Errors.topicMetadataError(topicFailure, p.topic, "Fetch", p.partition) ?? Errors.noLeader(p.topic, p.partition, "Fetch")
            if (error._tag === "TopicAuthorizationFailed") done.push({ _tag: "Error", topic: p.topic, partition: p.partition, error })
            else retry.push({ fetch: p, error })
            continue
          }
          const leader = leaderOf(p.topic, p.partition)
          if (leader === undefined) {
            retry.push({ fetch: p, error: Errors.noLeader(p.topic, p.partition, "Fetch") })
            continue
          }
          const list = byLeader.get(leader)
          if (list) list.push(p)
          else byLeader.set(leader, [p])
        }
        // A backed-off broker is not asked while other leaders are: its partitions get its last error.
        const now = yield* Clock.currentTimeMillis
        const backedOff = [...byLeader.keys()].filter((id) => (backoffs.get(id)?.until ?? 0) > now)
        if (backedOff.length < byLeader.size) {
          for (const id of backedOff) {
            const parts = byLeader.get(id)!
            byLeader.delete(id)
            const error = new KafkaError.FetchError({
              ...backoffs.get(id)!.error,
              partitions: parts.map((p) => TopicPartition.make(p.topic, p.partition)),
            })
            for (const fetch of parts) unreachable.push({ fetch, error })
          }
        }
        const answers = yield* Effect.forEach(
          byLeader,
          ([nodeId, parts]) => Effect.map(fetchFromBroker(nodeId, parts, request), (answer) => ({ nodeId, parts, answer })),
          { concurrency: "unbounded" },
        )
        const after = yield* Clock.currentTimeMillis
        for (const { nodeId, parts, answer } of answers) {
          if (Either.isLeft(answer)) {
            const failures = (backoffs.get(nodeId)?.failures ?? 0) + 1
            backoffs.set(nodeId, { failures, until: after + brokerBackoffMs(failures), error: answer.left })
            for (const fetch of parts) unreachable.push({ fetch, error: answer.left })
            continue
          }
          backoffs.delete(nodeId)
          const byKey = new Map(answer.right.partitions.map((raw) => [TopicPartition.key(raw), raw]))
          for (const p of parts) {
            const raw = byKey.get(TopicPartition.key(p))
            if (raw === undefined) {
              // Kafka answers every partition it was asked for; a missing one is a broker that lost it.
              retry.push({ fetch: p, error: Errors.noLeader(p.topic, p.partition, "Fetch") })
            } else if (raw.errorCode === 0) {
              if (raw.legacyFormat) {
                return yield* Errors.corruptResponse(
                  "Fetch",
                  `${TopicPartition.format(p)} holds records in the legacy message format (magic < 2), which this client does not decode`,
                )
              }
              done.push(partitionRecords(raw, p.offset, request.isolationLevel))
            } else {
              const error = Errors.partitionFetchError(raw.errorCode, p.topic, p.partition, p.offset)
              if (Errors.isLeadershipCode(raw.errorCode)) retry.push({ fetch: p, error })
              else done.push({ _tag: "Error", topic: p.topic, partition: p.partition, error })
            }
          }
        }
        return { done, retry, unreachable }
      })

    // After a connection failure or timeout, the next call refreshes metadata before routing.
    let metadataStale = false

    const fetch = Effect.fn("KafkaClient.fetch")(function* (request: Fetcher.FetchRequest) {
      const results = new Map<string, Fetcher.PartitionFetchResult>()
      const driver = yield* Schedule.driver(config.retrySchedule)
      if (metadataStale) {
        metadataStale = false
        yield* refreshMetadata
      }
      let pending: ReadonlyArray<Fetcher.FetchPartition> = request.partitions
      // Partitions whose leader could not be reached: a per-partition FetchError, not retried in
      // this call (retrying is the caller's loop, so backoffs do not compound).
      const unreachable: Array<{ readonly fetch: Fetcher.FetchPartition; readonly error: KafkaError.FetchError }> = []
      while (pending.length > 0) {
        const round = yield* fetchRound(request, pending)
        for (const r of round.done) results.set(TopicPartition.key(r), r)
        for (const u of round.unreachable) {
          unreachable.push(u)
          results.set(TopicPartition.key(u.fetch), { _tag: "Error", topic: u.fetch.topic, partition: u.fetch.partition, error: u.error })
        }
        // The next call refreshes metadata first, so that a leader that moved is found.
        if (round.unreachable.length > 0) metadataStale = true
        const retry = round.retry
        if (retry.length === 0) break
        // Leadership moved or metadata is behind: refresh, route again, retry on the schedule.
        yield* Effect.logDebug("kafka: fetch retry after metadata refresh").pipe(
          Effect.annotateLogs({ partitions: retry.map((r) => TopicPartition.format(r.fetch)).join(","), error: retry[0]!.error._tag }),
        )
        yield* refreshMetadata
        const next = yield* Effect.either(driver.next(retry[0]!.error))
        if (Either.isLeft(next)) {
          for (const r of retry) {
            results.set(TopicPartition.key(r.fetch), { _tag: "Error", topic: r.fetch.topic, partition: r.fetch.partition, error: r.error })
          }
          break
        }
        pending = retry.map((r) => r.fetch)
      }
      // Nothing could be fetched at all (every leader failed): the whole call fails, for the
      // caller's schedule (the Consumer's fetchRetry).
      const first = unreachable[0]
      if (first !== undefined && unreachable.length === request.partitions.length) {
        return yield* new KafkaError.FetchError({
          ...first.error,
          partitions: unreachable.map((u) => TopicPartition.make(u.fetch.topic, u.fetch.partition)),
        })
      }
      const out: Array<Fetcher.PartitionFetchResult> = []
      let delivered = 0
      for (const p of request.partitions) {
        const r = results.get(TopicPartition.key(p))
        if (r !== undefined) {
          out.push(r)
          if (r._tag === "Records") delivered += r.records.length
        }
      }
      yield* Metric.incrementBy(recordsFetched, delivered)
      return out
    })

    // -----------------------------------------------------------------------------------------
    // ListOffsets

    const listFromBroker = (
      nodeId: number,
      parts: ReadonlyArray<TopicPartition.TopicPartition>,
      spec: OffsetSpec.ListOffsetsSpec,
      all: ReadonlyArray<TopicPartition.TopicPartition>,
    ) =>
      Effect.gen(function* () {
        const broker = yield* tryKafka(() => cluster.findBroker({ nodeId }))
        const timestamp = spec === "earliest" ? -2 : -1
        const proto = K.listOffsetsRequest(broker, {
          replicaId: -1,
          isolationLevel: isolationCode(config.isolationLevel),
          topics: [...TopicPartition.groupByTopic(parts)].map(([topic, partitions]) => ({
            topic,
            partitions: partitions.map((partition) => ({ partition, timestamp })),
          })),
        })
        // kafkajs's decode does not throw on partition errors; its parse does, so it is replaced.
        const decode = (payload: Buffer) => K.decodeListOffsets(proto, payload)
        return yield* tryKafka(() => K.send(broker, proto, { decode, parse: (d) => Promise.resolve(d) })).pipe(
          Effect.tapError((e) => dropConnectionIfClosed(broker, e)),
        )
      }).pipe(
        Effect.tapError(() =>
          Effect.sync(() => {
            metadataStale = true
          }),
        ),
        Effect.mapError((e) => Errors.listOffsetsError(e, all)),
      )

    const listOffsets = Effect.fn("KafkaClient.listOffsets")(function* (
      partitions: ReadonlyArray<TopicPartition.TopicPartition>,
      spec: OffsetSpec.ListOffsetsSpec,
    ) {
      const found = new Map<string, bigint>()
      const driver = yield* Schedule.driver(config.retrySchedule)
      if (metadataStale) {
        metadataStale = false
        yield* refreshMetadata
      }
      let pending = partitions
      while (pending.length > 0) {
        const topics = [...new Set(pending.map((p) => p.topic))]
        const failedTopics = yield* ensureTopics(topics).pipe(Effect.mapError((e) => Errors.listOffsetsError(e, partitions)))
        const retry: Array<{ readonly tp: TopicPartition.TopicPartition; readonly error: KafkaError.ListOffsetsFailure }> = []
        const byLeader = new Map<number, Array<TopicPartition.TopicPartition>>()
        for (const tp of pending) {
          const topicFailure = failedTopics.get(tp.topic)
          if (topicFailure !== undefined) {
            const error = Errors.topicMetadataError(topicFailure, tp.topic, "ListOffsets") ?? Errors.noLeader(tp.topic, tp.partition, "ListOffsets")
            if (error._tag === "TopicAuthorizationFailed") return yield* error
            retry.push({ tp, error })
            continue
          }
          const leader = leaderOf(tp.topic, tp.partition)
          if (leader === undefined) {
            retry.push({ tp, error: Errors.noLeader(tp.topic, tp.partition, "ListOffsets") })
            continue
          }
          const list = byLeader.get(leader)
          if (list) list.push(tp)
          else byLeader.set(leader, [tp])
        }
        const answers = yield* Effect.forEach(
          byLeader,
          ([nodeId, parts]) => listFromBroker(nodeId, parts, spec, partitions),
          { concurrency: "unbounded" },
        )
        for (const answer of answers) {
          for (const topic of answer.responses) {
            for (const p of topic.partitions) {
              const tp = TopicPartition.make(topic.topic, p.partition)
              if (p.errorCode === 0) {
                const offset = p.offset ?? p.offsets?.[0]
                if (offset === undefined) {
                  return yield* Errors.corruptResponse("ListOffsets", `no offset for ${TopicPartition.format(tp)}`)
                }
                found.set(TopicPartition.key(tp), BigInt(offset))
              } else if (Errors.isLeadershipCode(p.errorCode)) {
                retry.push({ tp, error: Errors.listOffsetsCodeError(p.errorCode, tp, partitions) })
              } else {
                return yield* Errors.listOffsetsCodeError(p.errorCode, tp, partitions)
              }
            }
          }
        }
        for (const [, parts] of byLeader) {
          for (const tp of parts) {
            if (!found.has(TopicPartition.key(tp)) && !retry.some((r) => TopicPartition.equals(r.tp, tp))) {
              retry.push({ tp, error: Errors.noLeader(tp.topic, tp.partition, "ListOffsets") })
            }
          }
        }
        if (retry.length === 0) break
        yield* refreshMetadata
        const next = yield* Effect.either(driver.next(retry[0]!.error))
        if (Either.isLeft(next)) return yield* retry[0]!.error
        pending = retry.map((r) => r.tp)
      }
      return partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, offset: found.get(TopicPartition.key(tp))! }))
    })

    const partitionsFor = Effect.fn("KafkaClient.partitionsFor")(function* (topic: string) {
      const failed = yield* ensureTopics([topic]).pipe(
        Effect.mapError((e) => {
          const c = Errors.classify(e)
          return new MetadataError({
            topics: [topic],
            reason: c._tag === "Transport" ? c.reason : "Unknown",
            retriable: c.retriable,
            cause: Errors.unwrap(e),
          })
        }),
      )
      const failure = failed.get(topic)
      if (failure !== undefined) {
        return yield* Errors.topicMetadataError(failure, topic) ??
          new MetadataError({ topics: [topic], reason: "Unknown", retriable: false, cause: failure })
      }
      const ids = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)
      return [...ids].sort((a, b) => a - b)
    })

    const fetchRequest = (
      positions: ReadonlyArray<TopicPartition.TopicPartition & { readonly offset: bigint }>,
    ): Fetcher.FetchRequest => ({
      partitions: positions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        maxBytes: config.fetchMaxPartitionBytes,
      })),
      maxWaitMs: config.fetchMaxWaitMs,
      minBytes: config.fetchMinBytes,
      maxBytes: config.fetchMaxBytes,
      isolationLevel: config.isolationLevel,
    })

    return { config, fetch, listOffsets, partitionsFor, fetchRequest } satisfies KafkaClientService
  })

// ---------------------------------------------------------------------------------------------
// layers

/** `KafkaClient`, core's `Fetcher` and `OffsetLister`, over one cluster connection for the layer's lifetime. */
export const layer = (
  options: KafkaOptions,
): Layer.Layer<KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister, KafkaError.InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(make(options), (client) =>
      Context.make(KafkaClient, client)
        .pipe(Context.add(Fetcher.Fetcher, { fetch: client.fetch }))
        .pipe(Context.add(OffsetLister.OffsetLister, { list: client.listOffsets })),
    ),
  )

/** `layer`, with options read from `Config` (e.g. `Config.array(Config.string(), "KAFKA_BROKERS")`). */
export const layerConfig = (
  config: Config.Config.Wrap<KafkaOptions>,
): Layer.Layer<
  KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister,
  KafkaError.InvalidConfig | ConfigError.ConfigError
> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

