/**
 * The testkit's fault proxy in front of real Apache Kafka (the suite's shared node), driven by
 * kafkajs 2.2.4, librdkafka 2.0.2 (kcat) and our KafkaClient: every connection a client opens
 * after bootstrap goes to a proxy listener, and the proxy's faults are what those clients see.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { FaultProxy } from "@kafka-effect/testkit"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import { Kafka, type KafkaConfig, logLevel } from "kafkajs"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Producer from "../src/Producer.js"
import { runToEnd } from "./harness/ChildProcess.js"
import * as RealKafka from "./harness/RealKafka.js"

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1"

const kafka = (brokers: ReadonlyArray<string>, config: Partial<KafkaConfig> = {}) =>
  new Kafka({ brokers: [...brokers], clientId: "proxy-test", logLevel: logLevel.NOTHING, ...config })

const connected = <C extends { connect(): Promise<void>; disconnect(): Promise<void> }>(make: () => C) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const c = make()
      await c.connect()
      return c
    }),
    (c) => Effect.promise(() => c.disconnect().catch(() => undefined)),
  )

/** A topic of `partitions` partitions holding `values` in partition 0, made straight on the broker. */
const topicWith = (prefix: string, partitions: number, values: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const topic = RealKafka.topicName(prefix)
    const k = kafka(RealKafka.brokers())
    const admin = yield* connected(() => k.admin())
    yield* Effect.promise(() => admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }))
    if (values.length > 0) {
      const producer = yield* Effect.orDie(Producer.make({ brokers: RealKafka.brokers() }))
      yield* Effect.orDie(producer.send(topic, values.map((value) => ({ value, partition: 0 }))))
    }
    return topic
  })

/** The error kafkajs gave, unwrapped from its retrier's wrappers. */
const rootName = (e: unknown): string => {
  let cur: unknown = e
  while (cur instanceof Error && "cause" in cur && cur.cause instanceof Error) cur = cur.cause
  return cur instanceof Error ? cur.name : String(cur)
}

const clientThrough = (proxy: FaultProxy.FaultProxy["Type"], requestTimeout: Duration.DurationInput): Effect.Effect<Context.Context<KafkaClient.KafkaClient | Fetcher.Fetcher | OffsetLister.OffsetLister>, never, Scope.Scope> =>
  Effect.orDie(Layer.build(KafkaClient.layer({ brokers: proxy.brokers, requestTimeout })))

describe("FaultProxy in front of real Apache Kafka", () => {
  it.scopedLive(
    "kafkajs (producer, group consumer) talks only to the proxy's listeners after bootstrap",
    () =>
      Effect.gen(function* () {
        const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
        const topic = yield* topicWith("proxy-behind", 2, [])
        const k = kafka(proxy.brokers)
        // kafkajs's own producer and consumer on purpose: the proxy must keep a third-party client behind it.
        const producer = yield* connected(() => k.producer())
        const consumer = yield* connected(() => k.consumer({ groupId: RealKafka.topicName("proxy-group") }))
        const addresses = new Set<string>()
        producer.on("producer.network.request", (e) => addresses.add(e.payload.broker))
        consumer.on("consumer.network.request", (e) => addresses.add(e.payload.broker))
        yield* Effect.promise(() =>
          producer.send({ topic, acks: -1, messages: [{ value: "p0", partition: 0 }, { value: "p1", partition: 1 }] }),
        )
        yield* Effect.promise(() => consumer.subscribe({ topic, fromBeginning: true }))
        const seen = yield* Effect.async<Array<string>>((resume) => {
          const got: Array<string> = []
          void consumer.run({
            eachMessage: async ({ message }) => {
              got.push(message.value?.toString() ?? "")
              if (got.length === 2) resume(Effect.succeed(got.sort()))
            },
          })
        })
        expect(seen).toEqual(["p0", "p1"])
        const listeners = (yield* proxy.listeners).map((l) => l.address)
        expect(addresses.size).toBeGreaterThan(0)
        expect([...addresses].filter((a) => !listeners.includes(a))).toEqual([])
        const log = yield* proxy.requests
        // the group's coordinator (FindCoordinator answer rewritten) was reached through the proxy
        expect(log.filter((e) => e.api === "JoinGroup").length).toBeGreaterThan(0)
        expect(log.filter((e) => e.api === "OffsetCommit" || e.api === "OffsetFetch").length).toBeGreaterThan(0)
        // after the first Metadata answer every request is addressed to a known node
        const afterMetadata = log.slice(log.findIndex((e) => e.api === "Metadata") + 1)
        expect(afterMetadata.filter((e) => e.broker === undefined && e.connection !== log[0]!.connection)).toEqual([])
        // the versions kafkajs negotiates with this Kafka: Metadata v6, FindCoordinator v2, Fetch v11
        const versions = (api: string) => [...new Set(log.filter((e) => e.api === api).map((e) => e.apiVersion))]
        expect(versions("Metadata")).toEqual([6])
        expect(versions("FindCoordinator")).toEqual([2])
        expect(versions("Fetch")).toEqual([11])
      }),
    60_000,
  )

  it.scopedLive(
    "kcat (librdkafka 2.0.2) is told the proxy's listener and reads through it",
    () =>
      Effect.gen(function* () {
        const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
        const topic = yield* topicWith("proxy-kcat", 1, ["a", "b", "c"])
        const meta = yield* runToEnd(Command.make("kcat", "-b", proxy.bootstrap, "-L", "-J", "-t", topic))
        const parsed: { brokers: Array<{ name: string }> } = JSON.parse(meta.stdout.join("\n"))
        expect(parsed.brokers.map((b) => b.name)).toEqual([...proxy.brokers])
        const read = yield* runToEnd(Command.make("kcat", "-b", proxy.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"))
        expect(read.stdout.filter((l) => l !== "")).toEqual(["a", "b", "c"])
        const log = yield* proxy.requests
        const versions = (api: string) => [...new Set(log.filter((e) => e.api === api).map((e) => e.apiVersion))]
        expect(versions("Metadata")).toEqual([4])
        expect(versions("Fetch")).toEqual([11])
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000,
  )

  it.scopedLive(
    "closing ListOffsets twice: kafkajs sees a closed connection, KafkaClient a Network ListOffsetsError; then both heal",
    () =>
      Effect.gen(function* () {
        const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
        const topic = yield* topicWith("proxy-close", 1, ["a", "b"])
        const admin = yield* connected(() => kafka(proxy.brokers, { retry: { retries: 0 } }).admin())
        yield* proxy.closeNext("ListOffsets", 1)
        const fromKafkajs = yield* Effect.flip(Effect.tryPromise(() => admin.fetchTopicOffsets(topic)))
        expect(rootName(fromKafkajs.error)).toBe("KafkaJSConnectionClosedError")
        const ctx = yield* clientThrough(proxy, "5 seconds")
        const lister = Context.get(ctx, OffsetLister.OffsetLister)
        const tp = TopicPartition.make(topic, 0)
        yield* proxy.closeNext("ListOffsets", 1, { partitions: [tp] })
        const fromClient = yield* Effect.flip(lister.list([tp], "latest"))
        expect(fromClient).toMatchObject({ _tag: "ListOffsetsError", reason: "Network", retriable: true })
        expect((yield* lister.list([tp], "latest")).map((o) => o.offset)).toEqual([2n])
        expect((yield* Effect.promise(() => admin.fetchTopicOffsets(topic)))[0]).toMatchObject({ low: "0", high: "2" })
        const lists = (yield* proxy.requests).filter((e) => e.api === "ListOffsets")
        expect(lists.slice(0, 2).map((e) => e.outcome)).toEqual(["closed", "closed"])
        expect(lists.slice(2).every((e) => e.outcome === "forwarded")).toBe(true)
      }),
    60_000,
  )

  it.scopedLive(
    "a held ListOffsets answer is a Timeout for KafkaClient; the added round trip is on every answer",
    () =>
      Effect.gen(function* () {
        const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
        const topic = yield* topicWith("proxy-delay", 1, ["a"])
        const tp = TopicPartition.make(topic, 0)
        const ctx = yield* clientThrough(proxy, "500 millis")
        const lister = Context.get(ctx, OffsetLister.OffsetLister)
        yield* proxy.delay("ListOffsets", "3 seconds", { count: 1 })
        expect(yield* Effect.flip(lister.list([tp], "earliest"))).toMatchObject({ _tag: "ListOffsetsError", reason: "Timeout" })
        yield* proxy.clear
        const fresh = Context.get(yield* clientThrough(proxy, "5 seconds"), OffsetLister.OffsetLister)
        yield* proxy.clearRequests
        yield* proxy.setRoundTrip("25 millis")
        expect((yield* fresh.list([tp], "latest")).map((o) => o.offset)).toEqual([1n])
        const log = (yield* proxy.requests).filter((e) => e.answeredAt !== undefined)
        expect(log.some((e) => e.api === "ListOffsets")).toBe(true)
        for (const e of log) {
          expect(e.delayedMs).toBe(25)
          // Both ends are whole milliseconds of the clock, and libuv times a 25 ms timer from its
          // cached loop time: the difference can read 24.
          expect(e.answeredAt! - e.at).toBeGreaterThanOrEqual(24)
        }
      }),
    60_000,
  )

  it.scopedLive(
    "an error code written into a real Fetch answer reaches KafkaClient for that partition only",
    () =>
      Effect.gen(function* () {
        const proxy = yield* FaultProxy.make({ upstream: RealKafka.brokers() })
        const topic = yield* topicWith("proxy-code", 2, ["a", "b"])
        const fetcher = Context.get(yield* clientThrough(proxy, "5 seconds"), Fetcher.Fetcher)
        yield* proxy.answerError("Fetch", 29, 1, { partitions: [TopicPartition.make(topic, 1)] })
        const result = yield* fetcher.fetch({
          partitions: [0, 1].map((partition) => ({ topic, partition, offset: 0n, maxBytes: 1 << 20 })),
          maxWaitMs: 100,
          minBytes: 1,
          maxBytes: 1 << 20,
          isolationLevel: "read_uncommitted",
        })
        expect(result.map((r) => (r._tag === "Records" ? r.records.map((x) => String(x.offset)) : r.error._tag))).toEqual([
          ["0", "1"],
          "TopicAuthorizationFailed",
        ])
        const fetch = (yield* proxy.requests).find((e) => e.api === "Fetch")
        expect(fetch).toMatchObject({ injectedCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errors: [{ topic, partition: 1, code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }] })
      }),
    60_000,
  )
})
