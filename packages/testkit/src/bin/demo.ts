/**
 * `pnpm demo`: a scripted scenario on the in-memory broker, in real time. A consumer reads three
 * partitions; retention then cuts the log under it (it heals forward, with a warning), an unclean
 * leader election truncates a partition under it (it heals back), and it seeks to the beginning and
 * to the end of every partition. Effect's logs go to stdout.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, type ConsumerEvent, TopicPartition } from "@kafka-effect/core"
import { Effect, Fiber, HashMap, Logger, Queue, Stream } from "effect"
import * as TestBroker from "../TestBroker.js"

const topic = "orders"
const partitions = [0, 1, 2].map((p) => TopicPartition.make(topic, p))
const [p0, p1, p2] = partitions

const say = (line: string) => Effect.sync(() => console.log(line))
const step = (title: string) => say(`\n== ${title}`)

// Readable logs on stdout: level, message, then the annotations.
const stdoutLogger = Logger.make(({ logLevel, message, annotations }) => {
  const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
  const facts = HashMap.toEntries(annotations)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ")
  console.log(`   [${logLevel.label}] ${text}${facts === "" ? "" : `\n           ${facts}`}`)
})

const formatRecord = (r: ConsumerRecord.ConsumerRecord) =>
  `   ${r.topic}-${r.partition}@${r.offset}  ${ConsumerRecord.utf8(r.key) ?? "-"} = ${ConsumerRecord.utf8(r.value)}`

const formatEvent = (e: ConsumerEvent.ConsumerEvent) =>
  `   event ${e._tag}: ${e.topic}-${e.partition} requested ${e.requestedOffset}, range [${e.earliest}, ${e.latest}], now at ${e.newOffset}, skipped ${e.skipped} (${e.policy})`

const program = Effect.gen(function* () {
  const broker = yield* TestBroker.TestBroker
  const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWaitMs: 250 } })
  const events = yield* consumer.subscribeEvents

  const produce = (tp: TopicPartition.TopicPartition, from: number, count: number) =>
    broker.produce(
      tp.topic,
      tp.partition,
      Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 3}`, value: `order ${tp.partition}.${from + i}` })),
    )

  /** Pulls exactly `n` records (the stream fetches on demand, so nothing is read ahead) and prints them. */
  const consume = (n: number) =>
    consumer.records.pipe(
      Stream.take(n),
      Stream.runCollect,
      Effect.tap((records) => Effect.forEach(records, (r) => say(formatRecord(r)), { discard: true })),
    )

  const printEvents = Effect.flatMap(Queue.takeAll(events), (es) =>
    Effect.forEach(es, (e) => say(formatEvent(e)), { discard: true }),
  )

  const printState = Effect.forEach(
    partitions,
    (tp) =>
      Effect.gen(function* () {
        const s = yield* broker.partitionState(tp)
        const position = yield* consumer.position(tp)
        yield* say(
          `   ${TopicPartition.format(tp)}: log [${s.logStartOffset}, ${s.highWatermark})  consumer position ${position}`,
        )
      }),
    { discard: true },
  )

  yield* step("produce 6 + 4 + 3 records, assign orders-0..2, consume from the beginning")
  yield* produce(p0, 0, 6)
  yield* produce(p1, 0, 4)
  yield* produce(p2, 0, 3)
  yield* consumer.assign(partitions)
  yield* consume(13)
  yield* printState

  yield* step("4 more records on orders-0, then retention deletes orders-0 below offset 8")
  yield* produce(p0, 6, 4)
  yield* broker.deleteRecords(p0, 8n)
  yield* say("   consumer is at 6, behind the log start 8: the next fetch answers OFFSET_OUT_OF_RANGE")
  yield* consume(2)
  yield* printEvents

  yield* step("unclean leader election: orders-1 truncated from 4 to 2 records")
  yield* broker.truncate(p1, 2n)
  yield* say("   consumer is at 4, past the high watermark 2; a new record arrives at offset 2 a moment later")
  const waiting = yield* Effect.fork(consume(1))
  yield* Effect.sleep("300 millis")
  yield* produce(p1, 2, 1)
  yield* Fiber.join(waiting)
  yield* printEvents
  yield* printState

  yield* step("seekToBeginning on all three partitions: one ListOffsets for all of them, then Fetch")
  yield* broker.clearRequests
  yield* consumer.seekToBeginning(partitions)
  yield* consume(2 + 3 + 3)
  yield* printState

  yield* step("2 more records on orders-0 and orders-1, then seekToEnd on every assigned partition")
  yield* produce(p0, 10, 2)
  yield* produce(p1, 3, 2)
  yield* consumer.seekToEnd()
  yield* say("   the 4 new records lie before the new positions and are not delivered; a record produced after the seek is")
  const tail = yield* Effect.fork(consume(1))
  yield* Effect.sleep("300 millis")
  yield* produce(p2, 3, 1)
  yield* Fiber.join(tail)
  yield* printState

  yield* step("round trips since seekToBeginning (the broker's request log)")
  const log = yield* broker.requests
  yield* say(`   ${log.map((e) => `${e.api}@${e.partitions.length}p`).join(" → ")}`)
  yield* say(`\ndone: ${log.length} requests, no error reached the consumer`)
})

program.pipe(
  Effect.scoped,
  Effect.provide(TestBroker.layer({ topics: { [topic]: 3 } })),
  Effect.provide(Logger.replace(Logger.defaultLogger, stdoutLogger)),
  NodeRuntime.runMain({ disablePrettyLogger: true }),
)
