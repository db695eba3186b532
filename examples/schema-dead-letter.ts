/**
 * JSON values decoded with a Schema, and a dead-letter topic for the records that do not decode: the
 * bad record goes to `<topic>.dead-letter` as it was fetched (key, value, the issue in its headers),
 * the stream goes on with the good ones. `onError: "skip"` would drop it with a warning instead,
 * `"fail"` (the default) would stop the stream with `RecordDecodeError`.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/schema-dead-letter.ts orders
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, RecordSchema, TopicPartition } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { Config, Console, Effect, Layer, Schema, Stream } from "effect"

const [topic = "orders"] = process.argv.slice(2)
const deadLetters = `${topic}.dead-letter`

const Order = Schema.Struct({ id: Schema.Number, item: Schema.String })
const OrderJson = RecordSchema.json(Order)

/** The record as it was fetched, with where it came from and why it did not decode. */
const toDeadLetter = (e: RecordSchema.RecordDecodeError) =>
  Effect.flatMap(Producer.Producer, (producer) =>
    producer.send(deadLetters, [
      {
        key: e.record.key,
        value: e.record.value,
        headers: { "dead-letter.topic": e.topic, "dead-letter.partition": String(e.partition), "dead-letter.offset": String(e.offset), "dead-letter.issue": e.issue },
      },
    ]),
  )

const program = Effect.gen(function* () {
  const producer = yield* Producer.Producer
  const typed = Producer.withSchema(OrderJson)
  // Two good orders around one that is not JSON (sent as raw bytes, as a broken client would).
  const [first] = yield* typed.send(topic, [{ value: { id: 1, item: "tea" }, partition: 0 }])
  yield* producer.send(topic, [{ key: "broken", value: "{id: 2", partition: 0 }])
  yield* typed.send(topic, [{ value: { id: 3, item: "cake" }, partition: 0 }])
  if (first === undefined) return yield* Effect.dieMessage("acks all: the broker answers where the batch went")

  const consumer = yield* Consumer.Consumer
  const tp = TopicPartition.make(topic, 0)
  yield* consumer.assign([tp])
  yield* consumer.seek(tp, first.baseOffset)
  yield* consumer.records.pipe(
    RecordSchema.decode({ value: OrderJson, onError: toDeadLetter }),
    Stream.take(2),
    Stream.runForEach((r) => Console.log(`order ${r.value.id}: ${r.value.item} (${r.topic}-${r.partition}@${r.offset})`)),
  )

  // Read the dead letter back.
  const dead = TopicPartition.make(deadLetters, 0)
  yield* consumer.assign([dead])
  yield* consumer.seekToBeginning([dead])
  yield* consumer.records.pipe(
    Stream.take(1),
    Stream.runForEach((r) => {
      const header = (name: string) => ConsumerRecord.utf8(r.headers.find((h) => h.key === name)?.value ?? null)
      return Console.log(
        `dead letter ${ConsumerRecord.utf8(r.key)}=${ConsumerRecord.utf8(r.value)} from ${header("dead-letter.topic")}-${header("dead-letter.partition")}@${header("dead-letter.offset")}`,
      )
    }),
  )
})

const live = Layer.unwrapEffect(
  Effect.map(Config.array(Config.string(), "KAFKA_BROKERS"), (brokers) =>
    Layer.mergeAll(
      Producer.layer({ brokers, clientId: "example-schema" }),
      Consumer.layer({ config: { maxWait: "100 millis" } }).pipe(Layer.provide(KafkaClient.layer({ brokers, clientId: "example-schema" }))),
    ),
  ),
)

NodeRuntime.runMain(program.pipe(Effect.provide(live)))
