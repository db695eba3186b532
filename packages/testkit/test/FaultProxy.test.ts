/**
 * The fault proxy in front of the embedded wire broker, driven by real clients (kafkajs 2.2.4 and
 * librdkafka 2.0.2's kcat): clients stay behind it after bootstrap, its faults are what the
 * clients see, big Fetch answers and many connections pass, and closing the scope closes it all.
 */
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, TopicPartition } from "@kafka-effect/core"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Net from "node:net"
import { FaultProxy } from "../src/index.js"
import * as EmbeddedBroker from "../src/wire/EmbeddedBroker.js"
import { admin, connected, kafka, producer, run } from "./wire/helpers.js"

const noRetry = { retry: { retries: 0 } }

/** The embedded broker (`brokers` listeners) and a proxy in front of it. */
const setup = (brokers: number) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(EmbeddedBroker.layer({ brokers }))
    const broker = Context.get(context, EmbeddedBroker.EmbeddedBroker)
    const proxy = yield* FaultProxy.make({ upstream: broker.brokers })
    return { broker, proxy }
  })

const errorName = (e: unknown): string => (e instanceof Error ? e.name : String(e))

describe("FaultProxy over the embedded broker", () => {
  it.scopedLive(
    "kafkajs stays behind the proxy: Metadata names its listeners, every broker connection goes through it",
    () =>
      Effect.gen(function* () {
        const { broker, proxy } = yield* setup(3)
        expect(proxy.brokers).toHaveLength(3)
        // bootstrap through one listener only: the others are learned from Metadata
        const k = kafka([proxy.brokers[0]])
        const a = yield* admin(k)
        yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "behind", numPartitions: 6 }] }))
        const p = yield* producer(k)
        for (let i = 0; i < 6; i++) {
          yield* Effect.promise(() => p.send({ topic: "behind", messages: [{ partition: i, value: `v${i}` }] }))
        }
        const cluster = yield* Effect.promise(() => a.describeCluster())
        const advertised = cluster.brokers.map((b) => `${b.host}:${b.port}`).sort()
        expect(advertised).toEqual([...proxy.brokers].sort())
        expect(advertised.some((a) => broker.brokers.includes(a))).toBe(false)
        const offsets = yield* Effect.promise(() => a.fetchTopicOffsets("behind"))
        expect(offsets.map((o) => o.high).sort()).toEqual(["1", "1", "1", "1", "1", "1"])
        // every connection the broker has is one the proxy opened for a client
        expect(yield* broker.connections).toBe(yield* proxy.connections)
        const log = yield* proxy.requests
        const produced = log.filter((e) => e.api === "Produce")
        // produce went to all three leaders, each addressed through its own listener
        expect(new Set(produced.map((e) => e.broker))).toEqual(new Set([0, 1, 2]))
        expect(new Set(produced.map((e) => e.upstream))).toEqual(new Set(broker.brokers))
        const listeners = yield* proxy.listeners
        expect(listeners.map((l) => l.nodeId)).toEqual([0, 1, 2])
        // kafkajs's versions: Metadata v6, ListOffsets v3, Produce v7 (non-flexible)
        expect(new Set(log.filter((e) => e.api === "Metadata").map((e) => e.apiVersion))).toEqual(new Set([6]))
      }),
    30_000,
  )

  it.scopedLive(
    "a coordinator found through FindCoordinator is reached through the proxy too (kafkajs consumer group)",
    () =>
      Effect.gen(function* () {
        const { broker, proxy } = yield* setup(3)
        const k = kafka(proxy.brokers)
        const p = yield* producer(k)
        yield* Effect.promise(() => p.send({ topic: "grouped", messages: [{ value: "one" }] }))
        const c = yield* connected(() => k.consumer({ groupId: "proxy-group" }))
        yield* Effect.promise(() => c.subscribe({ topic: "grouped", fromBeginning: true }))
        const got = yield* Effect.async<string>((resume) => {
          void c.run({
            eachMessage: async ({ message }) => {
              resume(Effect.succeed(message.value?.toString() ?? ""))
            },
          })
        })
        expect(got).toBe("one")
        const log = yield* proxy.requests
        const find = log.filter((e) => e.api === "FindCoordinator")
        expect(find.length).toBeGreaterThan(0)
        expect(find.every((e) => e.answeredAt !== undefined)).toBe(true)
        expect(log.filter((e) => e.api === "JoinGroup").length).toBeGreaterThan(0)
        expect(yield* broker.connections).toBe(yield* proxy.connections)
      }),
    30_000,
  )

  it.scopedLive(
    "kcat (librdkafka 2.0.2) sees the proxy's listeners and consumes through it",
    () =>
      Effect.gen(function* () {
        const { broker, proxy } = yield* setup(3)
        const k = kafka(broker.brokers)
        const p = yield* producer(k)
        yield* Effect.promise(() => p.send({ topic: "kcat-behind", messages: [{ value: "a" }, { value: "b" }] }))
        const meta = yield* run("kcat", ["-b", proxy.brokers[1], "-L", "-J"])
        expect(meta.code).toBe(0)
        const parsed: { brokers: Array<{ id: number; name: string }> } = JSON.parse(meta.stdout)
        expect(parsed.brokers.map((b) => b.name).sort()).toEqual([...proxy.brokers].sort())
        const consumed = yield* run("kcat", ["-b", proxy.brokers[0], "-C", "-t", "kcat-behind", "-o", "beginning", "-e", "-q"])
        expect(consumed.stdout.trim().split("\n")).toEqual(["a", "b"])
        const log = yield* proxy.requests
        // librdkafka 2.0.2's versions against this broker: Metadata v4, Fetch v11, ListOffsets v2 or none
        expect(new Set(log.filter((e) => e.api === "Metadata").map((e) => e.apiVersion))).toEqual(new Set([4]))
        expect(log.filter((e) => e.api === "Fetch").every((e) => e.apiVersion === 11)).toBe(true)
        expect(log.filter((e) => e.api === "Fetch").length).toBeGreaterThan(0)
      }),
    30_000,
  )

  it.scopedLive(
    "closeNext: the next N ListOffsets close the connection (kafkajs: connection closed), then it heals",
    () =>
      Effect.gen(function* () {
        const { proxy } = yield* setup(1)
        const a = yield* admin(kafka(proxy.brokers, noRetry))
        yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "close-lo", numPartitions: 1 }] }))
        yield* proxy.closeNext("ListOffsets", 2)
        const first = yield* Effect.flip(Effect.tryPromise(() => a.fetchTopicOffsets("close-lo")))
        expect(errorName(first.error)).toMatch(/KafkaJSConnectionClosedError|KafkaJSNumberOfRetriesExceeded/)
        const second = yield* Effect.flip(Effect.tryPromise(() => a.fetchTopicOffsets("close-lo")))
        expect(errorName(second.error)).toMatch(/KafkaJSConnectionClosedError|KafkaJSNumberOfRetriesExceeded/)
        const healed = yield* Effect.promise(() => a.fetchTopicOffsets("close-lo"))
        expect(healed).toMatchObject([{ partition: 0, low: "0", high: "0" }])
        const lists = (yield* proxy.requests).filter((e) => e.api === "ListOffsets")
        // the healed call is kafkajs's two ListOffsets (earliest, latest)
        expect(lists.map((e) => e.outcome)).toEqual(["closed", "closed", "forwarded", "forwarded"])
        expect(lists[2]!.partitions).toEqual([TopicPartition.make("close-lo", 0)])
      }),
    30_000,
  )

  it.scopedLive(
    "delay: a held answer outlasts kafkajs's request timeout; the round trip is added to every answer",
    () =>
      Effect.gen(function* () {
        const { proxy } = yield* setup(1)
        const a = yield* admin(kafka(proxy.brokers, { ...noRetry, requestTimeout: 300 }))
        yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "delayed", numPartitions: 1 }] }))
        yield* proxy.delay("ListOffsets", "2 seconds", { count: 1 })
        const timedOut = yield* Effect.flip(Effect.tryPromise(() => a.fetchTopicOffsets("delayed")))
        expect(errorName(timedOut.error)).toMatch(/KafkaJSRequestTimeoutError|KafkaJSNumberOfRetriesExceeded/)
        yield* proxy.clear
        // the held answer still blocks that connection (answers leave in order, as a broker sends
        // them): the round trip is measured over a new client
        yield* proxy.clearRequests
        yield* proxy.setRoundTrip("40 millis")
        const b = yield* admin(kafka(proxy.brokers, noRetry))
        yield* Effect.promise(() => b.fetchTopicMetadata({ topics: ["delayed"] }))
        const log = yield* proxy.requests
        expect(log.length).toBeGreaterThan(0)
        for (const e of log.filter((e) => e.answeredAt !== undefined)) {
          expect(e.delayedMs).toBe(40)
          expect(e.answeredAt! - e.at).toBeGreaterThanOrEqual(40)
        }
      }),
    30_000,
  )

  it.scopedLive(
    "answerError: a ListOffsets partition answered UNKNOWN_TOPIC_OR_PARTITION reaches kafkajs as that protocol error",
    () =>
      Effect.gen(function* () {
        const { proxy } = yield* setup(1)
        const a = yield* admin(kafka(proxy.brokers, noRetry))
        yield* Effect.promise(() => a.createTopics({ topics: [{ topic: "rewritten", numPartitions: 2 }] }))
        yield* proxy.answerError("ListOffsets", 3, 1, { partitions: [TopicPartition.make("rewritten", 1)] })
        const failed = yield* Effect.flip(Effect.tryPromise(() => a.fetchTopicOffsets("rewritten")))
        const cause = failed.error instanceof Error && "cause" in failed.error ? failed.error.cause : failed.error
        expect(String(cause)).toMatch(/does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/)
        const lists = (yield* proxy.requests).filter((e) => e.api === "ListOffsets")
        expect(lists[0]).toMatchObject({ injectedCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errors: [{ topic: "rewritten", partition: 1, code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] })
      }),
    30_000,
  )

  it.scopedLive(
    "a 24 MiB topic is fetched through the proxy intact, by 40 clients at once",
    () =>
      Effect.gen(function* () {
        const { broker, proxy } = yield* setup(1)
        const p = yield* producer(kafka(proxy.brokers))
        const value = (i: number) => `${String(i).padStart(8, "0")}${"x".repeat(64 * 1024 - 8)}`
        for (let batch = 0; batch < 48; batch++) {
          yield* Effect.promise(() =>
            p.send({ topic: "big", messages: Array.from({ length: 8 }, (_, j) => ({ value: value(batch * 8 + j) })) }),
          )
        }
        const c = yield* connected(() => kafka(proxy.brokers).consumer({ groupId: "big-reader", maxBytes: 32 * 1024 * 1024 }))
        yield* Effect.promise(() => c.subscribe({ topic: "big", fromBeginning: true }))
        const seen = yield* Effect.async<Array<string>>((resume) => {
          const got: Array<string> = []
          void c.run({
            eachMessage: async ({ message }) => {
              got.push(message.value?.toString() ?? "")
              if (got.length === 384) resume(Effect.succeed(got))
            },
          })
        })
        expect(seen.map((v, i) => v === value(i)).every(Boolean)).toBe(true)
        // many connections at once, each a kafkajs client of its own
        const clients = 40
        const metas = yield* Effect.forEach(
          Array.from({ length: clients }, (_, i) => i),
          () => Effect.flatMap(admin(kafka(proxy.brokers)), (a) => Effect.promise(() => a.fetchTopicOffsets("big"))),
          { concurrency: "unbounded" },
        )
        expect(metas.map((m) => m[0]!.high)).toEqual(Array.from({ length: clients }, () => "384"))
        expect(yield* proxy.connections).toBeGreaterThanOrEqual(clients)
        expect(yield* broker.connections).toBe(yield* proxy.connections)
      }),
    60_000,
  )

  it.live("closing the scope closes the listeners and every connection", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { broker, proxy } = yield* Scope.extend(setup(1), scope)
      const a = yield* Scope.extend(admin(kafka(proxy.brokers)), scope)
      yield* Effect.promise(() => a.fetchTopicMetadata({ topics: [] }))
      expect(yield* proxy.connections).toBeGreaterThan(0)
      const [host, port] = proxy.brokers[0]!.split(":")
      yield* Scope.close(scope, Exit.void)
      expect(yield* proxy.connections).toBe(0)
      const refused = yield* Effect.async<string>((resume) => {
        const s = Net.connect({ host: host!, port: Number(port) })
        s.on("connect", () => {
          s.destroy()
          resume(Effect.succeed("connected"))
        })
        s.on("error", (e) => resume(Effect.succeed((e as NodeJS.ErrnoException).code ?? "error")))
      })
      expect(refused).toBe("ECONNREFUSED")
      expect(broker.brokers).toHaveLength(1)
    }),
  )

  it.scoped("bad options are typed errors naming the field and the value", () =>
    Effect.gen(function* () {
      const noPort = yield* Effect.flip(FaultProxy.make({ upstream: ["127.0.0.1"] }))
      expect(noPort).toMatchObject({ _tag: "FaultProxyError", reason: "InvalidOption", field: "upstream[0]", value: "127.0.0.1" })
      const none = yield* Effect.flip(FaultProxy.make({ upstream: [] }))
      expect(none).toMatchObject({ reason: "InvalidOption", field: "upstream" })
      const proxy = yield* FaultProxy.make({ upstream: ["127.0.0.1:9"] })
      expect(yield* Effect.flip(proxy.closeNext("ListOffsets", 0))).toMatchObject({ field: "count", value: 0 })
      expect(yield* Effect.flip(proxy.delay("Fetch", -5))).toMatchObject({ field: "duration", value: -5 })
      expect(yield* Effect.flip(proxy.closeNext(-1, 1))).toMatchObject({ field: "api", value: -1 })
      expect(yield* Effect.flip(proxy.answerError("Fetch", 0, 1))).toMatchObject({ field: "code", value: 0 })
      expect(
        yield* Effect.flip(proxy.closeNext("Metadata", 1, { partitions: [TopicPartition.make("t", 0)] })),
      ).toMatchObject({ field: "partitions" })
    }),
  )
})
