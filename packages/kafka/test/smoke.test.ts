import { it } from "@effect/vitest"
import { Fetcher, OffsetLister } from "@kafka-effect/core"
import { Effect, Layer } from "effect"
import { expect } from "vitest"
import * as KafkaClient from "../src/KafkaClient.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as Producer from "./harness/Producer.js"

const live = Layer.unwrapEffect(
  Effect.map(MockCluster.MockCluster, (m) => KafkaClient.layer({ brokers: m.brokers, logLevel: "warn" })),
)

it.live("smoke", () =>
  Effect.gen(function* () {
    const mock = yield* MockCluster.MockCluster
    yield* mock.createTopic("t1", 3)
    const producer = yield* Producer.Producer
    for (let p = 0; p < 3; p++) {
      yield* producer.send("t1", p, Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `p${p}-v${i}` })))
    }
    const lister = yield* OffsetLister.OffsetLister
    const latest = yield* lister.list([0, 1, 2].map((partition) => ({ topic: "t1", partition })), "latest")
    console.log(latest)
    const fetcher = yield* Fetcher.Fetcher
    const res = yield* fetcher.fetch({
      partitions: [0, 1, 2].map((partition) => ({ topic: "t1", partition, offset: partition === 2 ? 100n : 1n, maxBytes: 1 << 20 })),
      maxWaitMs: 100, minBytes: 1, maxBytes: 1 << 22, isolationLevel: "read_uncommitted",
    })
    console.log(JSON.stringify(res, (_k, v) => typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString() : v, 1).slice(0, 3000))
    expect(res.length).toBe(3)
  }).pipe(Effect.provide(Layer.mergeAll(live, Producer.layer).pipe(Layer.provideMerge(MockCluster.layer(3))))),
)
