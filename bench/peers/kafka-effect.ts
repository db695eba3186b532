/** kafka-effect: core's Consumer over the kafkajs-backed live layer, manual assignment. */
import { Consumer, TopicPartition } from "@kafka-effect/core"
import { KafkaClient } from "@kafka-effect/kafka"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { args, report, rssMB } from "./common.js"

const loadedRssMB = rssMB()

const a = args()
const started = performance.now()
let first = 0
let n = 0
let sum = 0n

const live = Consumer.layer({ config: { maxWaitMs: 100 } }).pipe(
  Layer.provide(KafkaClient.layer({ brokers: a.bootstrap, clientId: "bench-kafka-effect" })),
)

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  yield* consumer.assign(Array.from({ length: a.partitions }, (_, p) => TopicPartition.make(a.topic, p)))
  yield* consumer.seekToBeginning()
  yield* consumer.chunks.pipe(
    Stream.runForEachWhile((chunk) =>
      Effect.sync(() => {
        if (n === 0) first = performance.now()
        for (const r of chunk) sum += r.offset
        n += chunk.length
        return n < a.records
      }),
    ),
  )
}).pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.Warning))

await Effect.runPromise(program)
const done = performance.now()
report({
  firstRecordMs: first - started,
  steadyMs: done - first,
  records: n,
  offsetSum: sum.toString(),
  heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  loadedRssMB,
})
