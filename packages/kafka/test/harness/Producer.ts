/**
 * A kafkajs producer (the public client, no one here wrote it) as a scoped resource, for putting
 * records into a real broker from the tests.
 */
import { Context, Effect, Layer } from "effect"
import { Kafka, logLevel, type Message, type Producer as KafkaJSProducer } from "kafkajs"
import { MockCluster } from "./MockCluster.js"

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
