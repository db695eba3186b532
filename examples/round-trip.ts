/**
 * A round trip through Kafka with the `Producer` service and the `Consumer`: three keyed records with
 * a header are sent to partition 0 of an existing topic, then read back from the offset the first
 * one got.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/round-trip.ts orders
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { Config, Console, Effect, Layer, Stream } from "effect"

const [topic = "orders"] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const producer = yield* Producer.Producer
  const [sent] = yield* producer.send(topic, [
    { key: "k1", value: "first", partition: 0, headers: { source: "round-trip" } },
    { key: "k2", value: "second", partition: 0 },
    { key: "k1", value: "third", partition: 0 },
  ])
  if (sent === undefined) return yield* Effect.dieMessage("acks all: the broker answers where the batch went")
  yield* Console.log(`sent 3 records to ${sent.topic}-${sent.partition} from offset ${sent.baseOffset}`)

  const consumer = yield* Consumer.Consumer
  const tp = TopicPartition.make(topic, 0)
  yield* consumer.assign([tp])
  yield* consumer.seek(tp, sent.baseOffset)
  yield* consumer.records.pipe(
    Stream.take(3),
    Stream.runForEach((r) =>
      Console.log(
        `received ${r.topic}-${r.partition}@${r.offset} ${ConsumerRecord.utf8(r.key)}=${ConsumerRecord.utf8(r.value)}` +
          // The Producer also writes its send span's `traceparent`; the example prints the user's headers.
          r.headers.filter((h) => h.key !== "traceparent").map((h) => ` ${h.key}:${ConsumerRecord.utf8(h.value)}`).join(""),
      ),
    ),
  )
})

// One broker list for both: the producer and the consumer each keep their own connections.
const live = Layer.unwrapEffect(
  Effect.map(Config.array(Config.string(), "KAFKA_BROKERS"), (brokers) =>
    Layer.mergeAll(
      Producer.layer({ brokers, clientId: "example-round-trip" }),
      Consumer.layer({ config: { maxWait: "100 millis" } }).pipe(Layer.provide(KafkaClient.layer({ brokers, clientId: "example-round-trip" }))),
    ),
  ),
)

NodeRuntime.runMain(program.pipe(Effect.provide(live)))
