/**
 * The README's example, runnable: a consumer group member that prints each record and commits what
 * it printed, with offset resets logged as warnings.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx demo/example.ts orders billing 10
 *   (topic, group id, how many records before it leaves the group)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, GroupConsumer } from "@kafka-effect/core"
import { GroupCoordinatorLive, KafkaClient } from "@kafka-effect/kafka"
import { Config, Console, Effect, Layer, Stream } from "effect"

const [topic = "orders", groupId = "example", max = "10"] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  const group = yield* GroupConsumer.subscribe(consumer, [topic], { groupId, sessionTimeout: "10 seconds" })
  yield* group.records.pipe(
    Stream.take(Number(max)),
    Stream.runForEach((record) =>
      Console.log(`${record.topic}-${record.partition}@${record.offset} ${ConsumerRecord.utf8(record.value)}`).pipe(
        Effect.zipRight(group.markProcessed([record])),
      ),
    ),
  )
  // Leaving the scope commits what was marked processed and leaves the group.
}).pipe(Effect.scoped)

// Broker options from the environment; a SASL password would be Config.redacted and stay Redacted.
const kafka = Effect.gen(function* () {
  const brokers = yield* Config.array(Config.string(), "KAFKA_BROKERS")
  const password = yield* Config.option(Config.redacted("KAFKA_PASSWORD"))
  const username = yield* Config.withDefault(Config.string("KAFKA_USERNAME"), "")
  return {
    brokers,
    clientId: "kafka-effect-example",
    ...(password._tag === "Some" ? { sasl: { mechanism: "plain" as const, username, password: password.value } } : {}),
  } satisfies KafkaClient.KafkaOptions
})

const live = Layer.unwrapEffect(
  Effect.map(kafka, (options) =>
    Consumer.layer({ config: { autoOffsetReset: "earliest" } }).pipe(
      Layer.provideMerge(KafkaClient.layer(options)),
      Layer.merge(GroupCoordinatorLive.layer(options)),
    ),
  ),
)

NodeRuntime.runMain(program.pipe(Effect.provide(live)))
