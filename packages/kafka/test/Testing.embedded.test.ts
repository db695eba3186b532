/**
 * `Testing.layerEmbedded`: a group member's ports go through `KafkaClient` and
 * `GroupCoordinatorLive` over the embedded broker's sockets (not its in-memory ports).
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { EmbeddedBroker, InMemoryCoordinator, TestKit } from "@kafka-effect/testkit"
import { Effect, Layer, Schedule } from "effect"
import * as KafkaClient from "../src/KafkaClient.js"
import * as Testing from "../src/Testing.js"

const embedded = Testing.layerEmbedded({
  topics: { orders: 2 },
  client: { clientId: "svc", retrySchedule: Schedule.recurs(2) },
})

describe("Testing.layerEmbedded", () => {
  it.scopedLive("a group member over TCP: records through KafkaClient, the group through GroupCoordinatorLive", () =>
    Effect.gen(function* () {
      const broker = yield* EmbeddedBroker.EmbeddedBroker
      const client = yield* KafkaClient.KafkaClient
      expect(client.config.brokers).toEqual(broker.brokers)
      yield* TestKit.produce("orders", 0, ["a", "b"])
      yield* TestKit.produce("orders", 1, ["c"])
      const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "50 millis" } })
      const records = yield* Effect.scoped(
        Effect.gen(function* () {
          const group = yield* GroupConsumer.subscribe(consumer, ["orders"], {
            groupId: "billing",
            sessionTimeout: "10 seconds",
            heartbeatInterval: "1 second",
          })
          const got = yield* TestKit.take(group.records, 3)
          yield* group.markProcessed(got)
          // the coordinator saw a wire client (GroupCoordinatorLive's `<clientId>-group`), not the in-memory one
          const described = yield* (yield* InMemoryCoordinator.InMemoryCoordinator).describe("billing")
          expect(described.members.map((m) => m.clientId)).toEqual(["svc-group"])
          return got
        }),
      )
      expect([...TestKit.describe(records)].sort()).toEqual(["orders-0@0=a", "orders-0@1=b", "orders-1@0=c"])
      expect(yield* broker.connections).toBeGreaterThan(0)
      expect(yield* TestKit.committed("billing", [TopicPartition.make("orders", 0), TopicPartition.make("orders", 1)])).toEqual({
        "orders-0": 2n,
        "orders-1": 1n,
      })
    }).pipe(Effect.provide(embedded)),
  )

  it.scopedLive("an unknown topic over the wire: the stream fails with UnknownTopicOrPartition naming it", () =>
    Effect.gen(function* () {
      const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
      yield* consumer.assign([TopicPartition.make("nowhere", 0)])
      const error = yield* Effect.flip(TestKit.take(consumer.records, 1))
      expect(error).toMatchObject({ _tag: "UnknownTopicOrPartition", topic: "nowhere" })
    }).pipe(Effect.provide(Layer.fresh(Testing.layerEmbedded({ autoCreateTopics: false, client: { retrySchedule: Schedule.recurs(1) } })))),
  )
})
