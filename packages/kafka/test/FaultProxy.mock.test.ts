/**
 * The testkit's fault proxy in front of librdkafka's mock cluster (3 brokers): KafkaClient
 * bootstrapped through one listener reaches every leader through the proxy (the mock's Metadata
 * answers rewritten), and a fault set on one broker's node id only hits that broker's partitions.
 */
import { describe, expect, it } from "@effect/vitest"
import { Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { FaultProxy } from "@kafka-effect/testkit"
import { Context, Effect, Layer } from "effect"
import * as KafkaClient from "../src/KafkaClient.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as Producer from "./harness/Producer.js"

describe("FaultProxy in front of librdkafka's mock cluster", () => {
  it.scopedLive(
    "KafkaClient reaches all three leaders through the proxy; a broker-scoped close hits only that leader",
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        const topic = "proxy-mock"
        yield* mock.createTopic(topic, 3)
        for (const p of [0, 1, 2]) {
          yield* mock.setLeader(topic, p, p + 1)
          yield* producer.send(topic, p, [{ value: `v${p}` }])
        }
        const proxy = yield* FaultProxy.make({ upstream: mock.brokers })
        const ctx = yield* Effect.orDie(Layer.build(KafkaClient.layer({ brokers: [proxy.brokers[0]!], requestTimeout: "5 seconds" })))
        const fetcher = Context.get(ctx, Fetcher.Fetcher)
        const lister = Context.get(ctx, OffsetLister.OffsetLister)
        const all = [0, 1, 2].map((p) => TopicPartition.make(topic, p))
        const request = (offset: bigint): Fetcher.FetchRequest => ({
          partitions: all.map((tp) => ({ ...tp, offset, maxBytes: 1 << 20 })),
          maxWaitMs: 50,
          minBytes: 1,
          maxBytes: 1 << 20,
          isolationLevel: "read_uncommitted",
        })
        const shown = (rs: ReadonlyArray<Fetcher.PartitionFetchResult>) =>
          rs.map((r) => (r._tag === "Records" ? r.records.map((x) => `${x.partition}@${x.offset}`).join() : r.error._tag))
        expect(shown(yield* fetcher.fetch(request(0n)))).toEqual(["0@0", "1@0", "2@0"])
        const fetches = (yield* proxy.requests).filter((e) => e.api === "Fetch")
        expect(new Set(fetches.map((e) => e.broker))).toEqual(new Set([1, 2, 3]))
        expect((yield* proxy.listeners).map((l) => l.nodeId)).toEqual([1, 2, 3])

        // broker 2 leads partition 1: only its ListOffsets is closed
        yield* proxy.closeNext("ListOffsets", 1, { broker: 2 })
        const failed = yield* Effect.flip(lister.list([all[1]!], "latest"))
        expect(failed).toMatchObject({ _tag: "ListOffsetsError", reason: "Network" })
        expect((yield* lister.list(all, "latest")).map((o) => o.offset)).toEqual([1n, 1n, 1n])
        const lists = (yield* proxy.requests).filter((e) => e.api === "ListOffsets")
        expect(lists.filter((e) => e.outcome === "closed").map((e) => e.broker)).toEqual([2])
      }).pipe(Effect.provide(Layer.provideMerge(Producer.layer, MockCluster.layer(3)))),
    60_000,
  )
})
