/**
 * An idempotent send whose answers never come back although the broker wrote it (the Produce
 * answers are held by a `FaultProxy` past the request timeout), then a send after the proxy heals:
 * what each acknowledgement says against what the partition holds.
 */
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { FaultProxy } from "@kafka-effect/testkit"
import { Effect, Either, Schedule, Stream } from "effect"
import * as KafkaClient from "../../src/KafkaClient.js"
import * as Producer from "../../src/Producer.js"

export interface Outcome {
  /** The first send's error tag and reason, when it failed. */
  readonly firstFailed: string | undefined
  /** Offset the second send was acknowledged at. */
  readonly secondAckedAt: bigint
  /** The partition's records as `offset:value`. */
  readonly stored: ReadonlyArray<string>
}

/** Runs the scenario on a topic of one partition that exists on `upstream`. */
export const ambiguousSend = (upstream: ReadonlyArray<string>, topic: string): Effect.Effect<Outcome, unknown> =>
  Effect.gen(function* () {
    const proxy = yield* FaultProxy.make({ upstream })
    const producer = yield* Producer.make({
      brokers: [proxy.bootstrap],
      clientId: "ambiguous-send",
      acks: "all",
      idempotent: true,
      requestTimeout: "1 second",
      ackTimeout: "1 second",
      retrySchedule: Schedule.recurs(1),
    })
    // Warm up: the producer id and the partition's metadata exist before the fault.
    yield* producer.send(topic, [{ partition: 0, value: "first" }])
    yield* proxy.delay("Produce", "3 seconds", { count: 100 })
    const failed = yield* Effect.either(producer.send(topic, [{ partition: 0, value: "lost?" }]))
    yield* proxy.clear
    // The held answers arrive late and are dropped; wait until they all have.
    yield* Effect.sleep("3500 millis")
    const [second] = yield* producer.send(topic, [{ partition: 0, value: "second" }])
    const consumer = yield* Consumer.make({ config: { maxWait: "100 millis" } }).pipe(
      Effect.provide(KafkaClient.layer({ brokers: [...upstream] })),
    )
    yield* consumer.assign([TopicPartition.make(topic, 0)])
    yield* consumer.seekToBeginning()
    const stored = yield* consumer.records.pipe(
      Stream.takeUntil((r) => ConsumerRecord.utf8(r.value) === "second"),
      Stream.map((r) => `${r.offset}:${ConsumerRecord.utf8(r.value)}`),
      Stream.runCollect,
      Effect.timeout("10 seconds"),
    )
    return {
      firstFailed: Either.isLeft(failed) ? `${failed.left._tag}` : undefined,
      secondAckedAt: second!.baseOffset,
      stored: [...stored],
    }
  }).pipe(Effect.scoped)
