/**
 * A kafkajs producer (the public client, no one here wrote it) as a scoped resource, for putting
 * records into a real broker from the tests.
 */
import type { TestBroker } from "@kafka-effect/testkit"
import { Context, Effect, Layer } from "effect"
import { type IHeaders, Kafka, logLevel, type Message, type Producer as KafkaJSProducer } from "kafkajs"
import { MockCluster } from "./MockCluster.js"

const toBuffer = (v: string | Uint8Array | null | undefined): Buffer | null =>
  v === null || v === undefined ? null : typeof v === "string" ? Buffer.from(v) : Buffer.from(v)

const toHeaders = (headers: TestBroker.ProducedRecord["headers"]): IHeaders | undefined => {
  if (headers === undefined) return undefined
  const out: Record<string, Buffer | Array<Buffer>> = {}
  const entries: ReadonlyArray<readonly [string, string | Uint8Array | null]> = Array.isArray(headers)
    ? headers.map((h: { key: string; value: Uint8Array | null }) => [h.key, h.value] as const)
    : Object.entries(headers)
  for (const [key, value] of entries) {
    const b = toBuffer(value) ?? Buffer.alloc(0)
    const prev = out[key]
    out[key] = prev === undefined ? b : Array.isArray(prev) ? [...prev, b] : [prev, b]
  }
  return out
}

/** A `TestBroker` record as a kafkajs message. */
export const toMessage = (r: TestBroker.ProducedRecord): Message => {
  const headers = toHeaders(r.headers)
  return {
    key: toBuffer(r.key),
    value: toBuffer(r.value),
    ...(headers === undefined ? {} : { headers }),
    ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
  }
}

export interface ProducerService {
  /** Sends records to one partition (acks=all); returns the offset of the first one. */
  readonly send: (topic: string, partition: number, messages: ReadonlyArray<Message>) => Effect.Effect<bigint>
  readonly producer: KafkaJSProducer
}

export class Producer extends Context.Tag("@kafka-effect/kafka/test/Producer")<Producer, ProducerService>() {}

export const make = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const kafka = new Kafka({
      brokers: [...brokers],
      clientId: "test-producer",
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 },
    })
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    yield* Effect.acquireRelease(
      Effect.promise(() => producer.connect()),
      () => Effect.promise(() => producer.disconnect()),
    )
    const send = (topic: string, partition: number, messages: ReadonlyArray<Message>) =>
      Effect.promise(() =>
        producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) }),
      ).pipe(Effect.map((meta) => BigInt(meta[0]!.baseOffset ?? "0")))
    return { send, producer } satisfies ProducerService
  })

export const layer = Layer.scoped(
  Producer,
  Effect.flatMap(MockCluster, (mock) => make(mock.brokers)),
)
