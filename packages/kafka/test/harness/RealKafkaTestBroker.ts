/**
 * The testkit's `TestBroker` control contract over real Apache Kafka: produce through kafkajs's
 * producer, topic creation, DeleteRecords and partition state through kafkajs's admin (both straight
 * to the broker), and faults, latency and the request log through a `FaultProxy` that sits between
 * the client under test (`KafkaClient`) and the broker. The proxy closes connections (Network),
 * holds answers (Timeout, latency) and rewrites Fetch / ListOffsets partition error codes
 * (ErrorCode), so every fault the conformance suite injects is one a real client would see.
 *
 * What real Kafka cannot be made to do on request is off in `capabilities` (see there); those
 * operations die if called.
 */
import type { TopicPartition } from "@kafka-effect/core"
import { FaultProxy, TestBroker } from "@kafka-effect/testkit"
import { Duration, Effect, Layer, Schedule } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../../src/KafkaClient.js"
import * as Producer from "./Producer.js"
import * as RealAdmin from "./RealAdmin.js"

type Service = TestBroker.TestBroker["Type"]

/** How long a "Timeout" fault holds the answer: longer than any request timeout the tests use. */
const TIMEOUT_HOLD = Duration.seconds(30)

export const capabilities: TestBroker.Capabilities = {
  deleteRecords: true,
  // Kafka's log cleaner compacts only rolled segments, on its own schedule: no request compacts a
  // log now (the compaction mission case runs the cleaner for real, in its own test).
  compact: false,
  // A lower high watermark needs an unclean leader election after losing acknowledged records;
  // nothing a client can ask a broker to do.
  truncate: false,
  // The proxy holds the answers of one API.
  latency: true,
  // Network: the proxy closes the connection; Timeout: it holds the answer; ErrorCode: it rewrites
  // a Fetch or ListOffsets partition's error code (other APIs cannot be given an error code).
  faults: true,
  // The proxy's log: every request the client under test sent, with the answer's partition errors.
  requestLog: true,
}

const unsupported = (what: string) =>
  Effect.die(new Error(`real Kafka cannot be made to ${what} on request; check TestBroker.capabilities first`))

const faultApis: ReadonlySet<string> = new Set<TestBroker.FaultApi>([
  "Metadata",
  "Fetch",
  "ListOffsets",
  "FindCoordinator",
  "JoinGroup",
  "SyncGroup",
  "Heartbeat",
  "LeaveGroup",
  "OffsetCommit",
  "OffsetFetch",
  "ApiVersions",
  "Produce",
  "CreateTopics",
  "DeleteTopics",
  "DeleteRecords",
  "InitProducerId",
])

const isFaultApi = (api: string): api is TestBroker.FaultApi => faultApis.has(api)

/** The proxy's log entry in the `TestBroker` log's words. */
const toEntry = (e: FaultProxy.LoggedRequest): TestBroker.RequestLogEntry | undefined => {
  if (!isFaultApi(e.api)) return undefined
  const fault: TestBroker.Fault | undefined =
    e.outcome === "closed"
      ? { _tag: "Network" }
      : e.injectedCode !== undefined
        ? { _tag: "ErrorCode", code: e.injectedCode }
        : undefined
  return {
    api: e.api,
    at: e.at,
    partitions: e.partitions,
    outcome: fault === undefined ? "ok" : "fault",
    ...(fault === undefined ? {} : { fault }),
    ...(e.errors === undefined ? {} : { errors: e.errors }),
    ...(e.broker === undefined ? {} : { brokerId: e.broker }),
  }
}

export const make = (upstream: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const proxy = yield* FaultProxy.FaultProxy
    const producer = yield* Producer.Producer
    const admin = new Kafka({
      brokers: [...upstream],
      clientId: "test-admin",
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 },
    }).admin()
    yield* Effect.acquireRelease(
      Effect.promise(() => admin.connect()),
      () => Effect.promise(() => admin.disconnect()),
    )

    const service: Service = {
      capabilities,
      createTopic: (topic, partitions) =>
        Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: false })).pipe(
          // On several nodes a broker may not know the new topic yet and answer
          // UNKNOWN_TOPIC_OR_PARTITION, which kafkajs's `waitForLeaders` (on by default) fails on.
          Effect.zipRight(
            Effect.tryPromise(async () => {
              const meta = await admin.fetchTopicMetadata({ topics: [topic] })
              const ps = meta.topics.find((t) => t.name === topic)?.partitions ?? []
              if (ps.length !== partitions || ps.some((p) => p.leader < 0)) throw new Error(`${topic} has no leaders yet`)
            }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(200))))),
          ),
          Effect.orDie,
        ),
      produce: (topic, partition, records) => producer.send(topic, partition, records.map(Producer.toMessage)),
      deleteRecords: (tp, beforeOffset) =>
        Effect.promise(async () => {
          // kafkajs's admin finds the leader in its cached metadata only: load the topic's first
          await admin.fetchTopicMetadata({ topics: [tp.topic] })
          await admin.deleteTopicRecords({ topic: tp.topic, partitions: [{ partition: tp.partition, offset: String(beforeOffset) }] })
        }),
      compact: () => unsupported("compact a log"),
      truncate: () => unsupported("truncate a log"),
      failNext: (api, count, fault, partitions) => {
        const filter = partitions === undefined ? undefined : { partitions }
        switch (fault._tag) {
          case "Network":
            return Effect.orDie(proxy.closeNext(api, count, filter))
          case "Timeout":
            return Effect.orDie(proxy.delay(api, TIMEOUT_HOLD, { ...filter, count }))
          case "ErrorCode":
            return api === "Fetch" || api === "ListOffsets"
              ? Effect.orDie(proxy.answerError(api, fault.code, count, filter))
              : unsupported(`answer ${api} with error code ${fault.code}`)
        }
      },
      setLatency: (api, latency) => Effect.orDie(proxy.delay(api, latency)),
      partitionState: (tp) => RealAdmin.partitionState(admin, tp),
      requests: Effect.map(proxy.requests, (log) => log.flatMap((e) => toEntry(e) ?? [])),
      clearRequests: proxy.clearRequests,
    }
    return service
  })

/** Leaders of `partitions` as node ids (for tests that fault one broker). */
export const leaders = (upstream: ReadonlyArray<string>, partitions: ReadonlyArray<TopicPartition.TopicPartition>) =>
  Effect.promise(async () => {
    const admin = new Kafka({ brokers: [...upstream], logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [...new Set(partitions.map((p) => p.topic))] })
      return partitions.map((tp) => meta.topics.find((t) => t.name === tp.topic)?.partitions.find((p) => p.partitionId === tp.partition)?.leader)
    } finally {
      await admin.disconnect()
    }
  })

/**
 * Everything a test or the conformance suite needs over the real brokers `upstream`: `TestBroker`
 * (control), the `FaultProxy` in front of them, `KafkaClient` + core's `Fetcher` and `OffsetLister`
 * (the layer under test, connected through the proxy), and a kafkajs `Producer` (straight to Kafka).
 */
export const layer = (upstream: ReadonlyArray<string>, options: Partial<KafkaClient.KafkaOptions> = {}) => {
  const client = Layer.unwrapEffect(
    Effect.map(FaultProxy.FaultProxy, (p) => KafkaClient.layer({ requestTimeout: "5 seconds", ...options, brokers: p.brokers })),
  )
  const control = Layer.scoped(TestBroker.TestBroker, make(upstream))
  return Layer.mergeAll(client, control).pipe(
    Layer.provideMerge(Layer.scoped(Producer.Producer, Producer.make(upstream))),
    Layer.provideMerge(FaultProxy.layer({ upstream })),
  )
}
