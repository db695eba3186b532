/**
 * `pnpm demo`: a short scripted story, told on stdout, of kafka-effect's consumer (core's `Consumer`
 * over `KafkaClient.layer`, kafkajs's protocol layer) against a Kafka broker over TCP.
 *
 * - By default the broker is the testkit's embedded wire broker (3 brokers, started in this process).
 * - With `KAFKA_BROKERS=host:port[,…]` it is that cluster: the demo creates a topic of its own
 *   (`kafka-effect-demo-…`, 3 partitions) and deletes it at the end.
 *
 * The story: records are consumed from three partitions; retention (DeleteRecords) cuts the log under
 * the consumer, which heals forward with a warning; an unclean leader election truncates a partition
 * under it (embedded broker only: a real cluster cannot be made to do that on demand), and it heals
 * back; then seekToBeginning and seekToEnd over all partitions. Records are produced with
 * kafka-effect's `Producer` and the log is cut with kafkajs's admin (DeleteRecords) in both cases.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, ConsumerRecord, type ConsumerEvent, TopicPartition } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { EmbeddedBroker, TestBroker } from "@kafka-effect/testkit"
import { Effect, Fiber, HashMap, Logger, Option, Queue, type Scope, Stream } from "effect"
import { type Admin, Kafka, logLevel } from "kafkajs"

const say = (line: string) => Effect.sync(() => console.log(line))
const step = (title: string) => say(`\n== ${title}`)

// Readable logs on stdout: level, message, then the annotations.
const stdoutLogger = Logger.make(({ logLevel: level, message, annotations }) => {
  const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
  const facts = HashMap.toEntries(annotations)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ")
  console.log(`   [${level.label}] ${text}${facts === "" ? "" : `\n           ${facts}`}`)
})

const formatRecord = (r: ConsumerRecord.ConsumerRecord) =>
  `   ${r.topic}-${r.partition}@${r.offset}  ${ConsumerRecord.utf8(r.key) ?? "-"} = ${ConsumerRecord.utf8(r.value)}`

const formatEvent = (e: ConsumerEvent.ConsumerEvent) =>
  `   event ${e._tag}: ${e.topic}-${e.partition} requested ${e.requestedOffset}, log start ${e.earliest}, end ${e.latest}, now at ${e.newOffset}, skipped ${e.skipped} (${e.policy})`

const kafkajs = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new Error(`kafkajs ${what}: ${e instanceof Error ? e.message : String(e)}`) })

/** What the story needs from a cluster besides the consumer. */
interface Cluster {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly produce: (partition: number, records: ReadonlyArray<{ key: string; value: string }>) => Effect.Effect<void, Error>
  /** Retention / DeleteRecords: the log start of `partition` moves up to `before`. */
  readonly deleteRecords: (partition: number, before: bigint) => Effect.Effect<void, Error>
  readonly logRange: (partition: number) => Effect.Effect<{ readonly start: bigint; readonly end: bigint }, Error>
  /** The embedded broker's control: truncation and the request log. None on a real cluster. */
  readonly control: Option.Option<TestBroker.TestBroker["Type"]>
}

/** kafkajs's admin over `brokers`, for the scope. */
const kafkajsAdmin = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const admin: Admin = new Kafka({ brokers: [...brokers], clientId: "kafka-effect-demo", logLevel: logLevel.NOTHING }).admin()
    yield* Effect.acquireRelease(kafkajs("admin connect", () => admin.connect()), () => Effect.promise(() => admin.disconnect()))
    return admin
  })

const makeCluster = (
  brokers: ReadonlyArray<string>,
  topic: string,
  control: Option.Option<TestBroker.TestBroker["Type"]>,
): Effect.Effect<Cluster, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const admin = yield* kafkajsAdmin(brokers)
    const producer = yield* Producer.make({ brokers, clientId: "kafka-effect-demo" })
    return {
      brokers,
      topic,
      control,
      produce: (partition, records) => Effect.asVoid(producer.send(topic, records.map((r) => ({ partition, key: r.key, value: r.value })))),
      deleteRecords: (partition, before) =>
        kafkajs("deleteTopicRecords", () => admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(before) }] })),
      logRange: (partition) =>
        Effect.map(kafkajs("fetchTopicOffsets", () => admin.fetchTopicOffsets(topic)), (offsets) => {
          const p = offsets.find((o) => o.partition === partition)
          return { start: BigInt(p?.low ?? "0"), end: BigInt(p?.high ?? "0") }
        }),
    }
  })

/** The embedded wire broker, 3 brokers in this process, with the topic created. */
const embeddedCluster = Effect.gen(function* () {
  const broker = yield* EmbeddedBroker.EmbeddedBroker
  const control = yield* TestBroker.TestBroker
  yield* say(`broker: the embedded wire broker, 3 brokers in this process at ${broker.bootstrap}`)
  yield* say("       (set KAFKA_BROKERS=host:port[,…] to run the same story against a real cluster)")
  return yield* makeCluster(broker.brokers, "orders", Option.some(control))
})

/** A real cluster: a topic of the demo's own, deleted at the end. */
const realCluster = (brokers: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const topic = `kafka-effect-demo-${Date.now().toString(36)}`
    yield* say(`broker: KAFKA_BROKERS=${brokers.join(",")}; topic ${topic} (3 partitions, created now, deleted at the end)`)
    const admin = yield* kafkajsAdmin(brokers)
    yield* Effect.acquireRelease(
      kafkajs("createTopics", () => admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })),
      () =>
        kafkajs("deleteTopics", () => admin.deleteTopics({ topics: [topic] })).pipe(
          Effect.catchAll((e) => say(`   could not delete topic ${topic}: ${e.message}`)),
        ),
    )
    return yield* makeCluster(brokers, topic, Option.none())
  })

const story = (cluster: Cluster) =>
  Effect.gen(function* () {
    const { topic } = cluster
    const partitions = [0, 1, 2].map((p) => TopicPartition.make(topic, p))
    const [p0, p1, p2] = partitions
    const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "250 millis" } })
    const events = yield* consumer.subscribeEvents

    // records are labelled `order <partition>.<offset>`, keys k0, k1, k2 in turn
    const next = [0, 0, 0]
    const produce = (tp: TopicPartition.TopicPartition, count: number) => {
      const from = next[tp.partition]!
      next[tp.partition] = from + count
      return cluster.produce(
        tp.partition,
        Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 3}`, value: `order ${tp.partition}.${from + i}` })),
      )
    }

    /** Pulls exactly `n` records (the stream fetches on demand, so nothing is read ahead) and prints them. */
    const consume = (n: number) =>
      consumer.records.pipe(
        Stream.take(n),
        Stream.runForEach((r) => say(formatRecord(r))),
      )

    const printEvent = Effect.flatMap(Queue.take(events), (e) => say(formatEvent(e)))

    const printState = Effect.forEach(
      partitions,
      (tp) =>
        Effect.gen(function* () {
          const range = yield* cluster.logRange(tp.partition)
          const position = yield* consumer.position(tp)
          yield* say(`   ${TopicPartition.format(tp)}: log [${range.start}, ${range.end})  consumer position ${position}`)
        }),
      { discard: true },
    )

    yield* step(`produce 6 + 4 + 3 records, assign ${topic}-0..2, consume from the beginning`)
    yield* produce(p0, 6)
    yield* produce(p1, 4)
    yield* produce(p2, 3)
    yield* consumer.assign(partitions)
    yield* consume(13)
    yield* printState

    yield* step(`4 more records on ${topic}-0, then retention (DeleteRecords) deletes ${topic}-0 below offset 8`)
    yield* produce(p0, 4)
    yield* cluster.deleteRecords(0, 8n)
    yield* say("   consumer is at 6, behind the log start 8: the next fetch answers OFFSET_OUT_OF_RANGE")
    yield* consume(2)
    yield* printEvent

    if (Option.isSome(cluster.control)) {
      yield* step(`unclean leader election: ${topic}-1 truncated from 4 to 2 records`)
      yield* cluster.control.value.truncate(p1, 2n)
      next[1] = 2
      yield* say("   consumer is at 4, past the high watermark 2; a new record arrives at offset 2 after the reset")
      const waiting = yield* Effect.fork(consume(1))
      yield* printEvent
      yield* produce(p1, 1)
      yield* Fiber.join(waiting)
    } else {
      yield* step("unclean leader election (a truncation under the consumer)")
      yield* say("   skipped: a truncation cannot be forced on a real cluster (it takes an unclean leader election);")
      yield* say("   run `pnpm demo` without KAFKA_BROKERS to see the consumer reset back to the new end")
    }
    yield* printState

    const control = cluster.control
    yield* step("seekToBeginning on all three partitions: one batched ListOffsets per leader, then Fetch")
    let available = 0n
    for (const tp of partitions) {
      const range = yield* cluster.logRange(tp.partition)
      available += range.end - range.start
    }
    if (Option.isSome(control)) yield* control.value.clearRequests
    yield* consumer.seekToBeginning(partitions)
    yield* consume(Number(available))
    if (Option.isSome(control)) {
      yield* say("   the consumer's round trips for it (the embedded broker's request log):")
      const log = (yield* control.value.requests).filter((e) => e.api === "Fetch" || e.api === "ListOffsets")
      // From the first ListOffsets: a Fetch that the previous run handed to its connection just
      // before it ended can reach the broker after the log was cleared.
      const first = log.findIndex((e) => e.api === "ListOffsets")
      yield* Effect.forEach(
        first < 0 ? log : log.slice(first),
        (e) => say(`     ${e.api.padEnd(11)} → broker ${e.brokerId ?? "?"}  ${e.partitions.map(TopicPartition.format).join(", ")}`),
        { discard: true },
      )
    }
    yield* printState

    yield* step(`2 more records on ${topic}-0 and ${topic}-1, then seekToEnd on every assigned partition`)
    yield* produce(p0, 2)
    yield* produce(p1, 2)
    yield* consumer.seekToEnd()
    const ends = yield* Effect.forEach(partitions, consumer.position)
    yield* say(`   positions now ${ends.join(", ")}: the 4 new records lie before them and are not delivered`)
    yield* produce(p2, 1)
    yield* say(`   a record produced on ${topic}-2 after the seek is:`)
    yield* consume(1)
    yield* printState

    yield* say("\ndone: no error reached the consumer")
  })

/** The story over a cluster, the consumer over `KafkaClient.layer`; everything closed at the end. */
const run = <R>(cluster: Effect.Effect<Cluster, Error, R | Scope.Scope>) =>
  Effect.scoped(
    Effect.flatMap(cluster, (c) =>
      story(c).pipe(Effect.provide(KafkaClient.layer({ brokers: c.brokers, clientId: "kafka-effect-demo" }))),
    ),
  )

const fromEnv = (process.env.KAFKA_BROKERS ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "")

const program =
  fromEnv.length > 0
    ? run(realCluster(fromEnv))
    : run(embeddedCluster).pipe(Effect.provide(EmbeddedBroker.layer({ brokers: 3, topics: { orders: 3 } })))

program.pipe(
  Effect.provide(Logger.replace(Logger.defaultLogger, stdoutLogger)),
  NodeRuntime.runMain({ disablePrettyLogger: true }),
)
