/**
 * The tests' producer: kafka-effect's own `Producer` service (src/Producer.ts) as a scoped resource,
 * sending to one partition at a time, for putting records into a broker from the tests. A failed
 * send (after the service's retries) is a defect: the test setup itself went wrong.
 */
import type { TestBroker } from "@kafka-effect/testkit"
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import * as KafkaProducer from "../../src/Producer.js"
import { MockCluster } from "./MockCluster.js"

/** A record for `send`: the partition is `send`'s. */
export type Message = Omit<KafkaProducer.ProducerRecord, "partition">

/** A `TestBroker` record as a producer record (header values that are null are written empty). */
export const toMessage = (r: TestBroker.ProducedRecord): Message => {
  const headers: Record<string, Array<Uint8Array | string>> = {}
  const entries: ReadonlyArray<readonly [string, string | Uint8Array | null]> = Array.isArray(r.headers)
    ? r.headers.map((h: { key: string; value: Uint8Array | null }) => [h.key, h.value] as const)
    : Object.entries(r.headers ?? {})
  for (const [key, value] of entries) headers[key] = [...(headers[key] ?? []), value ?? new Uint8Array(0)]
  return {
    key: r.key ?? null,
    value: r.value,
    ...(r.headers === undefined ? {} : { headers }),
    ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp }),
  }
}

export interface ProducerService {
  /** Sends records to one partition (acks=all); returns the offset of the first one. */
  readonly send: (topic: string, partition: number, messages: ReadonlyArray<Message>) => Effect.Effect<bigint>
}

export class Producer extends Context.Tag("@kafka-effect/kafka/test/Producer")<Producer, ProducerService>() {}

// A topic just created may not have a leader everywhere yet: retry that quickly, a while.
const retrySchedule = Schedule.exponential("50 millis").pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(500))),
  Schedule.intersect(Schedule.recurs(10)),
)

export const make = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const producer = yield* Effect.orDie(KafkaProducer.make({ brokers, clientId: "test-producer", logLevel: "nothing", retrySchedule }))
    const send = (topic: string, partition: number, messages: ReadonlyArray<Message>) =>
      producer.send(topic, messages.map((m) => ({ ...m, partition }))).pipe(
        Effect.map((written) => written[0]?.baseOffset ?? 0n),
        Effect.orDie,
      )
    return { send } satisfies ProducerService
  })

export const layer = Layer.scoped(
  Producer,
  Effect.flatMap(MockCluster, (mock) => make(mock.brokers)),
)
