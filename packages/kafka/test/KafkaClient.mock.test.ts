/**
 * The live layer against librdkafka's mock cluster (a real protocol peer, real TCP, real time).
 */
import { layer } from "@effect/vitest"
import { ErrorCode, Fetcher, KafkaError, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { TestKit } from "@kafka-effect/testkit"
import { Cause, Effect, Either, Layer, LogLevel, Metric, Redacted, Schedule } from "effect"
import { Kafka, logLevel } from "kafkajs"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import { drain, text } from "./harness/drain.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as MockTestBroker from "./harness/MockTestBroker.js"
import * as Producer from "./harness/Producer.js"

const fastRetry = Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(5)))

const fetchRequest = (
  partitions: ReadonlyArray<TopicPartition.TopicPartition & { readonly offset: bigint }>,
): Fetcher.FetchRequest => ({
  partitions: partitions.map((p) => ({ ...p, maxBytes: 1 << 20 })),
  maxWaitMs: 50,
  minBytes: 1,
  maxBytes: 1 << 24,
  isolationLevel: "read_uncommitted",
})

const fetchRequests = KafkaClient.metrics.fetchRequests

/** A second client on the same mock with a 500ms request timeout. */
const shortTimeoutClient = Layer.unwrapScoped(
  Effect.map(MockCluster.MockCluster, (m) =>
    KafkaClient.layer({ brokers: m.brokers, requestTimeout: "500 millis", retrySchedule: fastRetry }),
  ),
)

/** A 3-partition topic whose partition p is led by broker p + 1 (the mock otherwise picks at random). */
const createSpread = (topic: string) =>
  Effect.gen(function* () {
    const mock = yield* MockCluster.MockCluster
    yield* mock.createTopic(topic, 3)
    for (const p of [0, 1, 2]) yield* mock.setLeader(topic, p, p + 1)
  })

const produceMany = (topic: string, partition: number, count: number, prefix = "") =>
  Effect.gen(function* () {
    const producer = yield* Producer.Producer
    for (let start = 0; start < count; start += 500) {
      const n = Math.min(500, count - start)
      yield* producer.send(
        topic,
        partition,
        Array.from({ length: n }, (_, i) => ({
          key: `k-${partition}-${start + i}`,
          value: `${prefix}v-${partition}-${start + i}`,
          headers: { seq: String(start + i) },
        })),
      )
    }
  })

layer(MockTestBroker.layer(3, { retrySchedule: fastRetry }), { excludeTestServices: true, timeout: "60 seconds" })(
  "KafkaClient over a 3-broker mock cluster",
  (it) => {
    it.effect("consumes records produced by kafkajs exactly, in order per partition, across brokers", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("exact", 6)
        // Leaders spread over the three brokers, so that a fetch is one request per broker.
        for (let p = 0; p < 6; p++) yield* mock.setLeader("exact", p, (p % 3) + 1)
        const counts = [300, 1, 0, 250, 77, 120]
        for (const [partition, n] of counts.entries()) yield* produceMany("exact", partition, n)
        const before = yield* Metric.value(fetchRequests)
        // Small per-partition limits: many rounds, batches cut short at the end of an answer.
        const drained = yield* drain(
          counts.map((n, partition) => ({ topic: "exact", partition, from: 0n, until: BigInt(n) })),
          { maxPartitionBytes: 2048 },
        )
        const after = yield* Metric.value(fetchRequests)
        for (const [partition, n] of counts.entries()) {
          const got = drained.records.get(TopicPartition.key({ topic: "exact", partition }))!
          expect(got.map((r) => r.offset)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i)))
          expect(got.map((r) => text(r.value))).toEqual(Array.from({ length: n }, (_, i) => `v-${partition}-${i}`))
          expect(got.map((r) => text(r.key))).toEqual(Array.from({ length: n }, (_, i) => `k-${partition}-${i}`))
          // The Producer adds its send span's traceparent to every record.
          expect(got.map((r) => r.headers.filter((h) => h.key !== "traceparent").map((h) => [h.key, text(h.value)]))).toEqual(
            Array.from({ length: n }, (_, i) => [["seq", String(i)]]),
          )
        }
        expect(drained.partitionErrors).toEqual([])
        // One Fetch per leader broker per cycle: 6 partitions over 3 brokers is at most 3 requests a fetch.
        expect(after.count - before.count).toBeLessThanOrEqual(3 * drained.fetches)
        expect(after.count - before.count).toBeGreaterThan(drained.fetches)
      }),
    )

    it.effect("lists earliest and latest per partition from each leader", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("listed", 3)
        yield* produceMany("listed", 0, 10)
        yield* produceMany("listed", 2, 3)
        const lister = yield* OffsetLister.OffsetLister
        const tps = [0, 1, 2].map((partition) => TopicPartition.make("listed", partition))
        expect(yield* lister.list(tps, "earliest")).toEqual(tps.map((tp) => ({ ...tp, offset: 0n })))
        expect((yield* lister.list(tps, "latest")).map((p) => p.offset)).toEqual([10n, 0n, 3n])
      }),
    )

    it.effect("an injected OFFSET_OUT_OF_RANGE on one broker's Fetch costs the other brokers' partitions nothing", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* createSpread("oor-one")
        for (const p of [0, 1, 2]) yield* produceMany("oor-one", p, 5)
        const client = yield* KafkaClient.KafkaClient
        const tps = [0, 1, 2].map((partition) => ({ topic: "oor-one", partition, offset: 0n }))
        yield* client.fetch(fetchRequest(tps)) // warm metadata
        const leaders = yield* leadersOf("oor-one", 3)
        expect(new Set(leaders).size).toBe(3)
        yield* mock.pushBrokerErrors(leaders[1]!, MockCluster.ApiKey.Fetch, [1])
        const result = yield* client.fetch(fetchRequest(tps))
        const byPartition = new Map(result.map((r) => [r.partition, r]))
        const errored = byPartition.get(1)!
        expect(errored._tag).toBe("Error")
        if (errored._tag === "Error") {
          expect(errored.error).toEqual(new KafkaError.OffsetOutOfRange({ topic: "oor-one", partition: 1, requestedOffset: 0n }))
        }
        for (const p of [0, 2]) {
          const r = byPartition.get(p)!
          expect(r).toMatchObject({ _tag: "Records" })
          if (r._tag === "Records") expect(r.records.map((x) => text(x.value))).toEqual([0, 1, 2, 3, 4].map((i) => `v-${p}-${i}`))
        }
        // Injected once: the next fetch of that partition has its records.
        const again = yield* client.fetch(fetchRequest([tps[1]!]))
        expect(again[0]!._tag === "Records" && again[0]!.records.length).toBe(5)
      }),
    )

    it.effect("a broker set down and up again mid-consumption loses and duplicates nothing", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* createSpread("downup")
        for (const p of [0, 1, 2]) yield* produceMany("downup", p, 100, "a-")
        const leaders = yield* leadersOf("downup", 3)
        expect(leaders).toEqual([1, 2, 3])
        const first = yield* drain([0, 1, 2].map((partition) => ({ topic: "downup", partition, from: 0n, until: 100n })))
        for (const p of [0, 1, 2]) yield* produceMany("downup", p, 100, "b-")
        // Broker 2 (leader of partition 1) goes down for a second: partition 1 gets a retriable
        // FetchError (per partition now, the others keep their records), the loop retries, the
        // broker returns.
        yield* mock.brokerDown(2)
        const t0 = Date.now()
        yield* mock.brokerUp(2).pipe(Effect.delay("1 second"), Effect.forkDaemon)
        const second = yield* drain([0, 1, 2].map((partition) => ({ topic: "downup", partition, from: 100n, until: 200n })))
        expect(Date.now() - t0).toBeGreaterThanOrEqual(900)
        expect(second.retriedFailures.length).toBeGreaterThan(0)
        expect(second.retriedFailures[0]).toMatchObject({ _tag: "FetchError", reason: "Network", retriable: true, brokerId: 2 })
        for (const p of [0, 1, 2]) {
          const k = TopicPartition.key({ topic: "downup", partition: p })
          const got = [...first.records.get(k)!, ...second.records.get(k)!]
          expect(got.map((r) => r.offset)).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i)))
          expect(got.map((r) => text(r.value))).toEqual(
            Array.from({ length: 200 }, (_, i) => (i < 100 ? `a-v-${p}-${i}` : `b-v-${p}-${i - 100}`)),
          )
        }
        expect(second.partitionErrors).toEqual([])
      }),
    )

    it.effect("one leader down: its partitions get a retriable per-partition FetchError, the others their records; it is probed on a backoff, not on every fetch", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* createSpread("pp-down")
        for (const p of [0, 1, 2]) yield* produceMany("pp-down", p, 5)
        const fetcher = yield* Fetcher.Fetcher
        const at = (offset: bigint) => fetchRequest([0, 1, 2].map((partition) => ({ topic: "pp-down", partition, offset })))
        yield* fetcher.fetch(at(0n))
        yield* mock.brokerDown(2)
        const first = yield* fetcher.fetch(at(0n))
        const byPartition = new Map(first.map((r) => [r.partition, r]))
        for (const p of [0, 2]) {
          const r = byPartition.get(p)!
          expect(r._tag === "Records" && r.records.map((x) => text(x.value))).toEqual(Array.from({ length: 5 }, (_, i) => `v-${p}-${i}`))
        }
        const failed = byPartition.get(1)!
        expect(failed).toMatchObject({
          _tag: "Error",
          error: { _tag: "FetchError", retriable: true, brokerId: 2, partitions: [{ topic: "pp-down", partition: 1 }] },
        })
        // Fetch for a second while broker 2 stays down: every answer names partition 1's error, but
        // broker 2 is asked again only when its backoff (100ms doubling) ran out. An answer from
        // the backoff repeats the last failure (same cause), a new attempt brings a new one.
        const causes = new Set<unknown>()
        let fetches = 0
        const started = Date.now()
        // at least 10 fetches and at least a second, however loaded the machine is
        while (fetches < 10 || Date.now() - started < 1000) {
          const result = yield* fetcher.fetch(at(5n))
          fetches++
          const r = result.find((x) => x.partition === 1)!
          expect(r).toMatchObject({ _tag: "Error", error: { _tag: "FetchError", retriable: true, brokerId: 2 } })
          if (r._tag === "Error" && r.error._tag === "FetchError") causes.add(r.error.cause)
          expect(result.filter((x) => x._tag === "Records").map((x) => x.partition)).toEqual([0, 2])
        }
        // Attempts at broker 2: the first, then one each time its backoff ran out. More than the
        // schedule allows in the time spent means the backoff did not hold.
        const elapsed = Date.now() - started
        let allowed = 1
        for (let waited = 0, delay = KafkaClient.brokerBackoffBaseMs; waited + delay <= elapsed && allowed < 1000; waited += Math.max(delay, 1), delay = Math.min(delay * 2, KafkaClient.brokerBackoffMaxMs)) allowed++
        expect(causes.size).toBeGreaterThanOrEqual(2)
        expect(causes.size).toBeLessThanOrEqual(allowed + 1)
        yield* mock.brokerUp(2)
        // Back: within the backoff cap (2s) partition 1 is fetched again from where it stood.
        let resumed = yield* fetcher.fetch(at(0n))
        for (let i = 0; i < 80 && !resumed.every((r) => r._tag === "Records"); i++) {
          resumed = yield* fetcher.fetch(at(0n)).pipe(Effect.delay("50 millis"))
        }
        const p1 = resumed.find((r) => r.partition === 1)!
        expect(p1._tag === "Records" && p1.records.map((x) => text(x.value))).toEqual(Array.from({ length: 5 }, (_, i) => `v-1-${i}`))
      }),
    )

    it.effect("a topic that metadata does not know is UnknownTopicOrPartition, after the metadata retries", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const client = yield* KafkaClient.KafkaClient
        yield* mock.createTopic("known", 1)
        yield* produceMany("known", 0, 2)
        yield* mock.topicError("no-such-topic", 3)
        // One unknown topic in the request does not cost the known topic its records.
        const result = yield* client.fetch(
          fetchRequest([
            { topic: "no-such-topic", partition: 0, offset: 0n },
            { topic: "known", partition: 0, offset: 0n },
          ]),
        )
        expect(result).toHaveLength(2)
        expect(result[0]!._tag === "Error" && result[0]!.error).toMatchObject({ _tag: "UnknownTopicOrPartition", topic: "no-such-topic" })
        expect(result[1]!._tag === "Records" && result[1]!.records.length).toBe(2)
        const listed = yield* Effect.either(client.listOffsets([TopicPartition.make("no-such-topic", 0)], "latest"))
        expect(Either.isLeft(listed) && listed.left._tag).toBe("UnknownTopicOrPartition")
        expect(Either.isLeft(yield* Effect.either(client.partitionsFor("no-such-topic")))).toBe(true)
      }),
    )

    it.effect("a topic whose metadata answers TOPIC_AUTHORIZATION_FAILED is TopicAuthorizationFailed, with no retries", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const client = yield* KafkaClient.KafkaClient
        yield* mock.topicError("forbidden", 29)
        const result = yield* client.fetch(fetchRequest([{ topic: "forbidden", partition: 0, offset: 0n }]))
        expect(result[0]!._tag === "Error" && result[0]!.error).toMatchObject({ _tag: "TopicAuthorizationFailed", topic: "forbidden" })
        const listed = yield* Effect.either(client.listOffsets([TopicPartition.make("forbidden", 0)], "earliest"))
        expect(Either.isLeft(listed) && listed.left).toMatchObject({ _tag: "TopicAuthorizationFailed", topic: "forbidden" })
      }),
    )
  },
)

layer(MockTestBroker.layer(1, { retrySchedule: fastRetry }), { excludeTestServices: true, timeout: "60 seconds" })(
  "KafkaClient over a 1-broker mock cluster",
  (it) => {
    it.effect("a fetch beyond the high watermark is OffsetOutOfRange for that partition; the others in the same answer keep their records", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("beyond", 3)
        for (const p of [0, 1, 2]) yield* produceMany("beyond", p, 4)
        const fetcher = yield* Fetcher.Fetcher
        const before = yield* Metric.value(fetchRequests)
        const result = yield* fetcher.fetch(
          fetchRequest([
            { topic: "beyond", partition: 0, offset: 1n },
            { topic: "beyond", partition: 1, offset: 99n },
            { topic: "beyond", partition: 2, offset: 2n },
          ]),
        )
        const after = yield* Metric.value(fetchRequests)
        expect(after.count - before.count).toBe(1) // one broker, one request
        expect(result.map((r) => r._tag)).toEqual(["Records", "Error", "Records"])
        const [p0, p1, p2] = result
        if (p0?._tag === "Records") {
          // Records below the requested offset (same batch) are dropped.
          expect(p0.records.map((r) => r.offset)).toEqual([1n, 2n, 3n])
          expect(p0.highWatermark).toBe(4n)
          expect(p0.logStartOffset).toBe(0n)
        }
        if (p1?._tag === "Error") {
          expect(p1.error).toEqual(new KafkaError.OffsetOutOfRange({ topic: "beyond", partition: 1, requestedOffset: 99n }))
        }
        if (p2?._tag === "Records") expect(p2.records.map((r) => r.offset)).toEqual([2n, 3n])
      }),
    )

    it.effect("an injected Fetch OFFSET_OUT_OF_RANGE (error 1) is a partition error, then the partition heals", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("inject-oor", 1)
        yield* produceMany("inject-oor", 0, 3)
        const fetcher = yield* Fetcher.Fetcher
        const tp = { topic: "inject-oor", partition: 0, offset: 0n }
        yield* fetcher.fetch(fetchRequest([tp]))
        yield* mock.pushErrors(MockCluster.ApiKey.Fetch, [1])
        const failed = yield* fetcher.fetch(fetchRequest([tp]))
        expect(failed[0]!._tag === "Error" && failed[0]!.error._tag).toBe("OffsetOutOfRange")
        const healed = yield* fetcher.fetch(fetchRequest([tp]))
        expect(healed[0]!._tag === "Records" && healed[0]!.records.length).toBe(3)
      }),
    )

    it.effect("ListOffsets answered with closed connections N times: ListOffsetsError(Network, retriable), then recovers on a schedule", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("lo-net", 2)
        yield* produceMany("lo-net", 1, 7)
        const lister = yield* OffsetLister.OffsetLister
        const tps = [TopicPartition.make("lo-net", 0), TopicPartition.make("lo-net", 1)]
        yield* lister.list(tps, "latest")
        yield* mock.pushErrors(MockCluster.ApiKey.ListOffsets, [MockCluster.CLOSE_CONNECTION, MockCluster.CLOSE_CONNECTION])
        const first = yield* Effect.either(lister.list(tps, "latest"))
        expect(Either.isLeft(first)).toBe(true)
        if (Either.isLeft(first)) {
          expect(first.left._tag).toBe("ListOffsetsError")
          if (first.left._tag === "ListOffsetsError") {
            expect(first.left.reason).toBe("Network")
            expect(first.left.retriable).toBe(true)
            expect(first.left.partitions).toEqual(tps)
          }
        }
        // One closed connection left: a retry on a schedule gets through.
        let attempts = 0
        const listed = yield* Effect.suspend(() => {
          attempts++
          return lister.list(tps, "latest")
        }).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 3, while: (e) => e._tag === "ListOffsetsError" && e.retriable }))
        expect(attempts).toBe(2)
        expect(listed.map((p) => p.offset)).toEqual([0n, 7n])
      }),
    )

    it.effect("ListOffsets closed more often than the schedule allows fails with ListOffsetsError", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("lo-net-exhausted", 1)
        const lister = yield* OffsetLister.OffsetLister
        const tps = [TopicPartition.make("lo-net-exhausted", 0)]
        yield* lister.list(tps, "latest")
        yield* mock.pushErrors(MockCluster.ApiKey.ListOffsets, Array.from({ length: 5 }, () => MockCluster.CLOSE_CONNECTION))
        const result = yield* Effect.either(
          lister.list(tps, "earliest").pipe(Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 2 })),
        )
        expect(Either.isLeft(result) && result.left._tag === "ListOffsetsError" && result.left.reason).toBe("Network")
        yield* mock.clearErrors(MockCluster.ApiKey.ListOffsets)
      }),
    )

    it.effect("TOPIC_AUTHORIZATION_FAILED (29) on Fetch reaches the caller as TopicAuthorizationFailed", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("authz", 1)
        yield* produceMany("authz", 0, 2)
        const fetcher = yield* Fetcher.Fetcher
        const tp = { topic: "authz", partition: 0, offset: 0n }
        yield* fetcher.fetch(fetchRequest([tp]))
        yield* mock.pushErrors(MockCluster.ApiKey.Fetch, [29])
        const result = yield* fetcher.fetch(fetchRequest([tp]))
        expect(result).toEqual([
          { _tag: "Error", topic: "authz", partition: 0, error: new KafkaError.TopicAuthorizationFailed({ topic: "authz", api: "Fetch" }) },
        ])
      }),
    )

    it.effect("NOT_LEADER_FOR_PARTITION on Fetch refreshes metadata and retries on the schedule", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("notleader", 1)
        yield* produceMany("notleader", 0, 3)
        const fetcher = yield* Fetcher.Fetcher
        const tp = { topic: "notleader", partition: 0, offset: 0n }
        yield* fetcher.fetch(fetchRequest([tp]))
        yield* mock.pushErrors(MockCluster.ApiKey.Fetch, [6, 6])
        const result = yield* fetcher.fetch(fetchRequest([tp]))
        expect(result[0]!._tag === "Records" && result[0]!.records.length).toBe(3)
        // Past the schedule (5 retries), the partition carries the error.
        yield* mock.pushErrors(MockCluster.ApiKey.Fetch, Array.from({ length: 6 }, () => 6))
        const exhausted = yield* fetcher.fetch(fetchRequest([tp]))
        expect(exhausted[0]!._tag === "Error" && exhausted[0]!.error).toMatchObject({ _tag: "BrokerError", code: ErrorCode.NOT_LEADER_OR_FOLLOWER, name: "NOT_LEADER_OR_FOLLOWER" })
      }),
    )

    it.effect("SASL options reach kafkajs's authenticator; the password shows in no log line and no error", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("sasl", 1)
        const secret = "s3cr3t-pw-do-not-log"
        const capture = yield* TestKit.makeLogCapture({ quiet: true, minimumLevel: LogLevel.All })
        const result = yield* Effect.either(
          Effect.flatMap(OffsetLister.OffsetLister, (l) => l.list([TopicPartition.make("sasl", 0)], "latest")),
        ).pipe(
          Effect.provide(
            KafkaClient.layer({
              brokers: mock.brokers,
              logLevel: "debug",
              sasl: { mechanism: "scram-sha-256", username: "operator", password: Redacted.make(secret) },
            }),
          ),
          Effect.provide(capture.layer),
          Effect.scoped,
        )
        // librdkafka's mock has no SaslHandshake: kafkajs's authenticator refuses, not retriable.
        expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "ListOffsetsError", retriable: false })
        if (Either.isLeft(result) && result.left._tag === "ListOffsetsError") {
          expect(result.left.cause).toMatchObject({ name: "KafkaJSServerDoesNotSupportApiKey", apiName: "SaslHandshake" })
        }
        const lines = (yield* capture.logs).map((l) => `${l.message} ${JSON.stringify(Object.entries(l.annotations))}`)
        expect(lines.length).toBeGreaterThan(0)
        expect(lines.filter((l) => l.includes(secret))).toEqual([])
        expect(Cause.pretty(Cause.fail(Either.isLeft(result) ? result.left : null))).not.toContain(secret)
      }),
    )

    it.effect("a closed connection on Fetch is a retriable FetchError(Network) at once (the caller's schedule retries); the next fetch works", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("fetch-net", 1)
        yield* produceMany("fetch-net", 0, 3)
        const fetcher = yield* Fetcher.Fetcher
        const tp = { topic: "fetch-net", partition: 0, offset: 0n }
        yield* fetcher.fetch(fetchRequest([tp]))
        yield* mock.pushErrors(MockCluster.ApiKey.Fetch, [MockCluster.CLOSE_CONNECTION])
        const failed = yield* Effect.either(fetcher.fetch(fetchRequest([tp])))
        expect(Either.isLeft(failed) && failed.left).toMatchObject({
          _tag: "FetchError",
          reason: "Network",
          retriable: true,
          brokerId: 1,
          partitions: [{ topic: "fetch-net", partition: 0 }],
        })
        const result = yield* fetcher.fetch(fetchRequest([tp]))
        expect(result[0]!._tag === "Records" && result[0]!.records.length).toBe(3)
      }),
    )

    it.effect("a request timeout on ListOffsets is ListOffsetsError(Timeout, retriable)", () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        yield* mock.createTopic("lo-timeout", 1)
        const tps = [TopicPartition.make("lo-timeout", 0)]
        const lister = yield* OffsetLister.OffsetLister
        yield* lister.list(tps, "latest")
        yield* mock.delay(MockCluster.ApiKey.ListOffsets, 3000, 1)
        const result = yield* Effect.either(lister.list(tps, "latest"))
        expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "ListOffsetsError", reason: "Timeout", retriable: true })
      }).pipe(Effect.provide(shortTimeoutClient)),
    )
  },
)

/** The leader broker id of each partition, as kafkajs's admin client sees it. */
const leadersOf = (topic: string, partitions: number) =>
  Effect.gen(function* () {
    const mock = yield* MockCluster.MockCluster
    const admin = new Kafka({ brokers: [...mock.brokers], logLevel: logLevel.NOTHING }).admin()
    yield* Effect.promise(() => admin.connect())
    const meta = yield* Effect.promise(() => admin.fetchTopicMetadata({ topics: [topic] })).pipe(
      Effect.ensuring(Effect.promise(() => admin.disconnect())),
    )
    const parts = meta.topics[0]!.partitions
    return Array.from({ length: partitions }, (_, p) => parts.find((x) => x.partitionId === p)!.leader)
  })
