/**
 * The testkit's `TestBroker` control contract over librdkafka's mock cluster, as far as the mock can:
 * produce (through kafkajs's producer), create topics, inject request errors / closed connections /
 * delays per API key. The mock 2.0.2 has no DeleteRecords, compaction, truncation or request log;
 * `capabilities` says so and those operations die if called. Latency is the mock's per-broker
 * round-trip time, so it delays every API, not only the one named.
 */
import type { TopicPartition } from "@kafka-effect/core"
import { TestBroker } from "@kafka-effect/testkit"
import { Duration, Effect, Layer } from "effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaClient from "../../src/KafkaClient.js"
import * as MockCluster from "./MockCluster.js"
import * as Producer from "./Producer.js"
import * as RealAdmin from "./RealAdmin.js"

type Service = TestBroker.TestBroker["Type"]

const apiKeys: Partial<Record<TestBroker.FaultApi, number>> = {
  Produce: 0,
  Fetch: MockCluster.ApiKey.Fetch,
  ListOffsets: MockCluster.ApiKey.ListOffsets,
  Metadata: MockCluster.ApiKey.Metadata,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  ApiVersions: 18,
}

/** How long a "Timeout" fault holds the answer: longer than any request timeout the tests use. */
const TIMEOUT_HOLD_MS = 30_000
/** `count: Infinity` as a finite error stack. */
const INFINITE = 5_000

const unsupported = (what: string) =>
  Effect.die(new Error(`librdkafka's mock cluster (2.0.2) cannot ${what}; check TestBroker.capabilities first`))

export const capabilities: TestBroker.Capabilities = {
  deleteRecords: false,
  compact: false,
  truncate: false,
  // Per broker, for every API (the mock has no per-API latency): see setLatency.
  latency: true,
  faults: true,
  requestLog: false,
}

export const make = Effect.gen(function* () {
  const mock = yield* MockCluster.MockCluster
  const producer = yield* Producer.Producer
  const admin = new Kafka({ brokers: [...mock.brokers], clientId: "test-admin", logLevel: logLevel.NOTHING }).admin()
  yield* Effect.acquireRelease(
    Effect.promise(() => admin.connect()),
    () => Effect.promise(() => admin.disconnect()),
  )

  const leadersOf = (partitions: ReadonlyArray<TopicPartition.TopicPartition>) =>
    Effect.promise(() => admin.fetchTopicMetadata({ topics: [...new Set(partitions.map((p) => p.topic))] })).pipe(
      Effect.map((meta) => {
        const leaders = new Set<number>()
        for (const tp of partitions) {
          const leader = meta.topics.find((t) => t.name === tp.topic)?.partitions.find((p) => p.partitionId === tp.partition)?.leader
          if (leader !== undefined) leaders.add(leader)
        }
        return [...leaders]
      }),
    )

  const push = (apiKey: number, codes: ReadonlyArray<number>, brokers: ReadonlyArray<number> | undefined) =>
    Effect.forEach(
      Array.from({ length: Math.ceil(codes.length / 200) }, (_, i) => codes.slice(i * 200, i * 200 + 200)),
      (chunk) =>
        brokers === undefined
          ? mock.pushErrors(apiKey, chunk)
          : Effect.forEach(brokers, (b) => mock.pushBrokerErrors(b, apiKey, chunk), { discard: true }),
      { discard: true },
    )

  const service: Service = {
    capabilities,
    createTopic: (topic, partitions) => Effect.orDie(mock.createTopic(topic, partitions)),
    produce: (topic, partition, records) => producer.send(topic, partition, records.map(Producer.toMessage)),
    deleteRecords: () => unsupported("delete records"),
    compact: () => unsupported("compact"),
    truncate: () => unsupported("truncate a log"),
    failNext: (api, count, fault, partitions) =>
      Effect.gen(function* () {
        const apiKey = apiKeys[api]
        if (apiKey === undefined) return yield* unsupported(`inject faults into ${api}`)
        const n = Number.isFinite(count) ? count : INFINITE
        // The mock's error stacks are per API key (and per broker), not per partition: with
        // `partitions`, the faults go to their leaders and hit every partition those brokers lead.
        const brokers = partitions === undefined ? undefined : yield* leadersOf(partitions)
        if (fault._tag === "Timeout") {
          if (brokers === undefined) yield* Effect.orDie(mock.delay(apiKey, TIMEOUT_HOLD_MS, n))
          else return yield* unsupported("delay answers of some partitions only")
          return
        }
        const code = fault._tag === "Network" ? MockCluster.CLOSE_CONNECTION : fault.code
        yield* Effect.orDie(push(apiKey, Array.from({ length: n }, () => code), brokers))
      }),
    // The mock's round-trip time is per broker, not per API: every request to every broker waits.
    setLatency: (api, latency) =>
      Effect.gen(function* () {
        if (apiKeys[api] === undefined) return yield* unsupported(`delay ${api}`)
        const ms = Math.round(Duration.toMillis(Duration.decode(latency)))
        for (let b = 1; b <= mock.brokerCount; b++) yield* Effect.orDie(mock.command(`rtt ${b} ${ms}`))
      }),
    partitionState: (tp) => RealAdmin.partitionState(admin, tp),
    requests: Effect.succeed([]),
    clearRequests: Effect.void,
  }
  return service
})

/**
 * Everything a test or the conformance suite needs over one mock cluster: `TestBroker` (control),
 * `MockCluster` (raw mock commands), `KafkaClient` + core's `Fetcher` and `OffsetLister` (the layer
 * under test), and a kafkajs `Producer`.
 */
export const layer = (brokers: 1 | 3, options: Partial<KafkaClient.KafkaOptions> = {}) => {
  const client = Layer.unwrapEffect(
    Effect.map(MockCluster.MockCluster, (m) =>
      KafkaClient.layer({ requestTimeout: "5 seconds", ...options, brokers: m.brokers }),
    ),
  )
  const control = Layer.scoped(TestBroker.TestBroker, make)
  return Layer.mergeAll(client, control).pipe(
    Layer.provideMerge(Producer.layer),
    Layer.provideMerge(MockCluster.layer(brokers)),
  )
}
