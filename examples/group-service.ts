/**
 * A consumer group member as a long-running service, with a graceful shutdown: on SIGINT or SIGTERM
 * `NodeRuntime.runMain` interrupts the program, the chunk being processed finishes (it is
 * uninterruptible), what was processed is committed, the member leaves the group (its partitions go to
 * the others at once, not after a session timeout) and the process exits 0.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/group-service.ts orders billing [work ms per chunk]
 *
 * Prints `processing <ranges>` when a chunk starts and `processed <ranges>` when it is done, a range
 * being `topic-partition@first..last`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, type ConsumerRecord, GroupConsumer } from "@kafka-effect/core"
import { GroupCoordinatorLive, KafkaClient } from "@kafka-effect/kafka"
import { Chunk, Config, Console, Effect, Layer, Stream } from "effect"

const [topic = "orders", groupId = "example-service", workMs = "50"] = process.argv.slice(2)

/** `orders-0@10..14 orders-1@3..3`: the offsets a chunk holds, per partition. */
const ranges = (chunk: Chunk.Chunk<ConsumerRecord.ConsumerRecord>): string => {
  const byPartition = new Map<string, { first: bigint; last: bigint }>()
  for (const r of chunk) {
    const key = `${r.topic}-${r.partition}`
    const range = byPartition.get(key)
    if (range === undefined) byPartition.set(key, { first: r.offset, last: r.offset })
    else range.last = r.offset
  }
  return [...byPartition].map(([tp, { first, last }]) => `${tp}@${first}..${last}`).join(" ")
}

/** The service's work on one chunk (here: a pause standing for a database write). */
const handle = (_chunk: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => Effect.sleep(`${Number(workMs)} millis`)

const service = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  const group = yield* GroupConsumer.subscribe(consumer, [topic], { groupId, sessionTimeout: "10 seconds" })
  yield* Console.log(`joined ${groupId} on ${topic}`)
  yield* group.chunks.pipe(
    Stream.runForEach((chunk) =>
      // Uninterruptible: a shutdown waits for this chunk to be handled and marked, never half of it.
      Effect.uninterruptible(
        Effect.gen(function* () {
          yield* Console.log(`processing ${ranges(chunk)}`)
          yield* handle(chunk)
          yield* group.markProcessed(Chunk.toReadonlyArray(chunk))
          yield* Console.log(`processed ${ranges(chunk)}`)
        }),
      ),
    ),
  )
}).pipe(
  // Closing the scope (the end, or an interruption by SIGINT/SIGTERM) commits what was marked
  // processed and leaves the group.
  Effect.scoped,
  Effect.onInterrupt(() => Console.log("stopped: offsets committed, left the group")),
)

const live = Layer.unwrapEffect(
  Effect.map(Config.array(Config.string(), "KAFKA_BROKERS"), (brokers) =>
    Consumer.layer({ config: { autoOffsetReset: "earliest" } }).pipe(
      Layer.provideMerge(KafkaClient.layer({ brokers, clientId: "example-service" })),
      Layer.merge(GroupCoordinatorLive.layer({ brokers, clientId: "example-service" })),
    ),
  ),
)

// runMain turns SIGINT and SIGTERM into an interruption of the program and exits 0 once it is done.
NodeRuntime.runMain(service.pipe(Effect.provide(live)))
