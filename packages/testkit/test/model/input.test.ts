/**
 * Bad input from users, over the in-memory broker: each is a typed error naming what was wrong,
 * never a hang or a defect.
 */
import { describe, expect, it } from "@effect/vitest"
import { Consumer, TopicPartition } from "@kafka-effect/core"
import { Effect, Exit, Scope } from "effect"
import { TestBroker, TestKit } from "../../src/index.js"

const t0 = TopicPartition.make("t", 0)

// A partition as it may arrive from untyped code (JSON, a CLI argument).
const untyped = (json: string): TopicPartition.TopicPartition => JSON.parse(json)
const untypedOffset = (json: string): bigint => JSON.parse(json)

describe("user input", () => {
  it.scoped("seek with a negative or non-bigint offset is InvalidOffset naming the partition and the value", () =>
    Effect.gen(function* () {
      const consumer = yield* Consumer.make()
      yield* consumer.assign([t0])
      expect(yield* Effect.flip(consumer.seek(t0, -1n))).toMatchObject({ _tag: "InvalidOffset", topic: "t", partition: 0, offset: -1n })
      const fractional = yield* Effect.flip(consumer.seek(t0, untypedOffset("1.5")))
      expect(fractional).toMatchObject({ _tag: "InvalidOffset", topic: "t", partition: 0, offset: 1.5 })
      expect(fractional.message).toBe("seek: offset 1.5 for t-0 is not an offset (a bigint >= 0n)")
      // nothing was recorded: the position is still the reset's
      expect(yield* consumer.position(t0)).toBe(0n)
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.scoped("a partition that is not one (negative, fractional, no topic) is InvalidTopicPartition in every call", () =>
    Effect.gen(function* () {
      const consumer = yield* Consumer.make()
      const bad = untyped('{"topic":"t","partition":-1}')
      expect(yield* Effect.flip(consumer.assign([t0, bad]))).toMatchObject({ _tag: "InvalidTopicPartition", operation: "assign", topic: "t", partition: -1 })
      expect(yield* consumer.assignment).toEqual([])
      yield* consumer.assign([t0])
      const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
        consumer.seek(untyped('{"topic":"","partition":0}'), 0n),
        consumer.seekToBeginning([untyped('{"topic":"t","partition":0.5}')]),
        consumer.seekToEnd([untyped('{"partition":0}')]),
        consumer.pause([bad]),
        consumer.resume([bad]),
        consumer.position(bad),
      ]
      const errors = yield* Effect.forEach(calls, (call) => Effect.flip(call))
      expect(errors.map((e) => [e._tag, "operation" in e ? e.operation : undefined])).toEqual([
        ["InvalidTopicPartition", "seek"],
        ["InvalidTopicPartition", "seekToBeginning"],
        ["InvalidTopicPartition", "seekToEnd"],
        ["InvalidTopicPartition", "pause"],
        ["InvalidTopicPartition", "resume"],
        ["InvalidTopicPartition", "position"],
      ])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.scoped("an unknown topic: the stream fails with UnknownTopicOrPartition naming it", () =>
    Effect.gen(function* () {
      const consumer = yield* Consumer.make()
      yield* consumer.assign([TopicPartition.make("nope", 0)])
      const fiber = yield* Effect.fork(Effect.flip(TestKit.take(consumer.records, 1)))
      expect(yield* TestKit.join(fiber)).toMatchObject({ _tag: "UnknownTopicOrPartition", topic: "nope", partition: 0 })
      // a partition the topic does not have, the same
      yield* consumer.assign([TopicPartition.make("t", 3)])
      const beyond = yield* Effect.fork(Effect.flip(TestKit.take(consumer.records, 1)))
      expect(yield* TestKit.join(beyond)).toMatchObject({ _tag: "UnknownTopicOrPartition", topic: "t", partition: 3 })
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )

  it.effect("after its scope closed the consumer fails every call with ConsumerClosed; a running stream stops with it", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const consumer = yield* Consumer.make().pipe(Scope.extend(scope))
      yield* consumer.assign([t0])
      const running = yield* Effect.fork(Effect.flip(TestKit.take(consumer.records, 1)))
      yield* TestKit.advance("1 second")
      yield* Scope.close(scope, Exit.void)
      expect(yield* TestKit.join(running)).toMatchObject({ _tag: "ConsumerClosed", operation: "records" })
      const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
        consumer.assign([t0]),
        consumer.seek(t0, 0n),
        consumer.seekToEnd(),
        consumer.pause([t0]),
        consumer.position(t0),
        consumer.assignment,
        Effect.scoped(consumer.subscribeEvents),
        TestKit.take(consumer.records, 1),
        TestKit.take(consumer.events, 1),
      ]
      const errors = yield* Effect.forEach(calls, (call) => Effect.flip(call))
      expect(errors.map((e) => [e._tag, "operation" in e ? e.operation : undefined])).toEqual([
        ["ConsumerClosed", "assign"],
        ["ConsumerClosed", "seek"],
        ["ConsumerClosed", "seekToEnd"],
        ["ConsumerClosed", "pause"],
        ["ConsumerClosed", "position"],
        ["ConsumerClosed", "assignment"],
        ["ConsumerClosed", "subscribeEvents"],
        ["ConsumerClosed", "records"],
        ["ConsumerClosed", "events"],
      ])
    }).pipe(Effect.provide(TestBroker.layer({ topics: { t: 1 } }))),
  )
})
