/**
 * The README's quick start: the consumer's layers over a broker, a seek, a Stream of records, a
 * custom retry Schedule.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/quick-start.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { KafkaClient } from "@kafka-effect/kafka"
import { Console, Effect, Layer, Schedule, Stream } from "effect"

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",")
const orders0 = TopicPartition.make("orders", 0)

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  yield* consumer.assign([orders0])
  yield* consumer.seek(orders0, 42n) // or seekToBeginning() / seekToEnd()
  yield* consumer.records.pipe(
    Stream.take(10),
    Stream.runForEach((r) => Console.log(`${r.topic}-${r.partition}@${r.offset} ${ConsumerRecord.utf8(r.value)}`)),
  )
})

// A failed Fetch (no leader reachable) is retried on this schedule instead of the default one.
const fetchRetry = Schedule.exponential("200 millis").pipe(Schedule.upTo("30 seconds"))
const live = Consumer.layer({ fetchRetry }).pipe(Layer.provide(KafkaClient.layer({ brokers })))

NodeRuntime.runMain(program.pipe(Effect.provide(live)))
