/**
 * Fetch over the cluster: partitions routed to their leaders, one request per leader in parallel,
 * answers decoded by our own RecordBatch decoder (one errored partition never costs the others
 * their records). Leadership errors are retried inside one call after a metadata refresh; an
 * unreachable leader gives its partitions a retriable per-partition FetchError and is backed off.
 */
import { ConsumerMetrics, type Fetcher, KafkaError, TopicPartition } from "@kafka-effect/core"
import { Clock, type Context, Duration, Effect, Either, Metric, Ref, Schedule } from "effect"
import type { KafkaConfig } from "./config.js"
import * as Errors from "./errors.js"
import { decodeFetchResponse, partitionResult, type RawFetchResponse } from "./fetchResponse.js"
import * as K from "./kafkajs.js"
import { dropConnectionIfClosed, type Metadata, tryKafka } from "./metadata.js"

/** Fetch requests sent to brokers (one per leader per cycle). Records are counted by the consumer when it delivers them. */
export const metrics = { fetchRequests: ConsumerMetrics.fetchRequests } as const
const { fetchRequests } = metrics

export const isolationCode = (level: Fetcher.IsolationLevel): number => (level === "read_committed" ? 1 : 0)

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

export const make = (
  config: KafkaConfig,
  cluster: K.Cluster,
  metadata: Metadata,
): Effect.Effect<Context.Tag.Service<Fetcher.Fetcher>["fetch"]> =>
  Effect.map(Ref.make<ReadonlyMap<number, BrokerBackoff>>(new Map()), (backoffs) => {
    const { ensureTopics, leaderOf } = metadata
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
            decode: (payload) => decodeFetchResponse(payload, version, { checkCrcs: config.checkCrcs, partitions: parts }),
            parse: (decoded) => Promise.resolve(decoded),
          }),
        ).pipe(Effect.tapError((e) => dropConnectionIfClosed(broker, e)))
        // A broker that failed before is probed with a short timeout, so that a broker that swallows
        // requests does not hold the healthy leaders' answers for a whole request timeout each time.
        const answer = (yield* Ref.get(backoffs)).has(nodeId)
          ? yield* send.pipe(
              Effect.timeoutFail({
                duration: Duration.sum(Duration.millis(request.maxWaitMs), config.connectionTimeout),
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
        Effect.catchAll((e) => {
          const failure = Errors.fetchRequestFailure(e, parts.map((p) => TopicPartition.make(p.topic, p.partition)), nodeId)
          return failure._tag === "CorruptResponse" ? Effect.fail(failure) : Effect.succeed(Either.left(failure))
        }),
      )

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
        const backoffNow = yield* Ref.get(backoffs)
        const backedOff = [...byLeader.keys()].filter((id) => (backoffNow.get(id)?.until ?? 0) > now)
        if (backedOff.length < byLeader.size) {
          for (const id of backedOff) {
            const parts = byLeader.get(id)!
            byLeader.delete(id)
            const error = new KafkaError.FetchError({
              ...backoffNow.get(id)!.error,
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
            const error = answer.left
            yield* Ref.update(backoffs, (m) => {
              const failures = (m.get(nodeId)?.failures ?? 0) + 1
              return new Map(m).set(nodeId, { failures, until: after + brokerBackoffMs(failures), error })
            })
            for (const fetch of parts) unreachable.push({ fetch, error })
            continue
          }
          yield* Ref.update(backoffs, (m) => {
            if (!m.has(nodeId)) return m
            const next = new Map(m)
            next.delete(nodeId)
            return next
          })
          if (answer.right.unexpected.length > 0) {
            yield* Effect.logWarning(`kafka: broker ${nodeId} answered Fetch for partitions it was not asked for; skipped`).pipe(
              Effect.annotateLogs({ brokerId: nodeId, partitions: answer.right.unexpected.map(TopicPartition.format).join(",") }),
            )
          }
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
              done.push(partitionResult(raw, p.offset, request.isolationLevel, request.deferDecoding === true))
            } else {
              const error = Errors.partitionFetchError(raw.errorCode, p.topic, p.partition, p.offset)
              if (Errors.isLeadershipCode(raw.errorCode)) retry.push({ fetch: p, error })
              else done.push({ _tag: "Error", topic: p.topic, partition: p.partition, error })
            }
          }
        }
        return { done, retry, unreachable }
      })


    const fetch = Effect.fn("KafkaClient.fetch")(function* (request: Fetcher.FetchRequest) {
      const results = new Map<string, Fetcher.PartitionFetchResult>()
      const driver = yield* Schedule.driver(config.retrySchedule)
      yield* metadata.refreshIfStale
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
        if (round.unreachable.length > 0) yield* metadata.markStale
        const retry = round.retry
        if (retry.length === 0) break
        // Leadership moved or metadata is behind: refresh, route again, retry on the schedule.
        yield* Effect.logDebug("kafka: fetch retry after metadata refresh").pipe(
          Effect.annotateLogs({ partitions: retry.map((r) => TopicPartition.format(r.fetch)).join(","), error: retry[0]!.error._tag }),
        )
        yield* metadata.refresh
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
      for (const p of request.partitions) {
        const r = results.get(TopicPartition.key(p))
        if (r !== undefined) out.push(r)
      }
      return out
    })

    return fetch
  })
