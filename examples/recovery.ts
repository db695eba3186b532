/**
 * Choosing what happens when the broker answers OFFSET_OUT_OF_RANGE, and on which schedules the
 * consumer retries. Ten records go to partition 0 (an existing topic), then two consumers start far
 * past the end of the log (offset 1000, as after a topic was recreated):
 *
 * - one heals with `OffsetRecovery.earliest`, its ListOffsets retried on a custom `Schedule` and its
 *   fetches on another: it replays the partition from its start and publishes an `OffsetReset` event;
 * - one uses `OffsetRecovery.fail()`: the typed `OffsetOutOfRange` reaches the stream's error channel
 *   (its type says so), and the program decides itself (here: go to the end).
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/recovery.ts orders
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, OffsetRecovery, TopicPartition } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { Config, Console, Effect, Layer, Queue, Schedule, Stream } from "effect"

const [topic = "orders"] = process.argv.slice(2)
const tp = TopicPartition.make(topic, 0)

// Retries while healing: ListOffsets every 200 ms, 5 times at most, then the stream fails with the
// ListOffsetsError (carrying the out-of-range facts).
const listOffsetsRetry = Schedule.spaced("200 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
// A whole Fetch that failed (no leader reachable): exponential from 50 ms, at most 10 seconds in all.
const fetchRetry = Schedule.exponential("50 millis").pipe(Schedule.upTo("10 seconds"))

const healing = Effect.gen(function* () {
  const consumer = yield* Consumer.make({ recovery: OffsetRecovery.earliest({ listOffsetsRetry }), fetchRetry })
  const events = yield* consumer.subscribeEvents
  yield* consumer.assign([tp])
  yield* consumer.seek(tp, 1000n)
  const first = yield* consumer.records.pipe(Stream.runHead)
  const reset = yield* Queue.take(events)
  yield* Console.log(
    `earliest: requested ${reset.requestedOffset}, valid [${reset.earliest}, ${reset.latest}], now at ${reset.newOffset}; ` +
      `first record ${first._tag === "Some" ? `${first.value.offset} ${ConsumerRecord.utf8(first.value.value)}` : "none"}`,
  )
}).pipe(Effect.scoped)

const failing = Effect.gen(function* () {
  const consumer = yield* Consumer.make({ recovery: OffsetRecovery.fail({ listOffsetsRetry }), fetchRetry })
  yield* consumer.assign([tp])
  yield* consumer.seek(tp, 1000n)
  yield* consumer.records.pipe(
    Stream.take(1),
    Stream.runDrain,
    Effect.catchTag("OffsetOutOfRange", (e) =>
      Effect.gen(function* () {
        yield* Console.log(`fail: ${e.message}; the program seeks to the end itself`)
        yield* consumer.seekToEnd([tp])
        yield* Console.log(`fail: position now ${yield* consumer.position(tp)}`)
      }),
    ),
  )
}).pipe(Effect.scoped)

const program = Effect.gen(function* () {
  const producer = yield* Producer.Producer
  yield* producer.send(topic, Array.from({ length: 10 }, (_, i) => ({ value: `record ${i}`, partition: 0 })))
  yield* healing
  yield* failing
})

const live = Layer.unwrapEffect(
  Effect.map(Config.array(Config.string(), "KAFKA_BROKERS"), (brokers) =>
    Layer.merge(Producer.layer({ brokers, clientId: "example-recovery" }), KafkaClient.layer({ brokers, clientId: "example-recovery" })),
  ),
)

NodeRuntime.runMain(program.pipe(Effect.provide(live)))
