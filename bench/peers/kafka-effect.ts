/**
 * kafka-effect: core's `Consumer` over the kafkajs-backed `KafkaClient`, manual assignment of every
 * partition from the beginning; `chunks` or `records` (argv[3]). Only the public API: the consumer's
 * `Fetcher` and `OffsetLister` are the client's, wrapped to count calls and the fetches outstanding.
 */
import { Consumer, Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { KafkaClient } from "@kafka-effect/kafka"
import { Chunk, Context, Effect, Layer, Logger, LogLevel, Option, Stream } from "effect"
import { type Instrumented, type OutOfRangeProbe, report, spec, Tally } from "./common.js"

const s = spec()
const mode = process.argv[3] === "records" ? "records" : "chunks"
const tally = new Tally(s.records, s.slow)

/** Fetches outstanding over time, and the time with none outstanding, from the first fetch on. */
const wire = {
  inFlight: 0,
  max: 0,
  fetches: 0,
  lists: 0,
  since: 0,
  first: 0,
  busyArea: 0,
  idle: 0,
  step(delta: number) {
    const now = performance.now()
    if (this.first === 0) this.first = now
    else {
      this.busyArea += this.inFlight * (now - this.since)
      if (this.inFlight === 0) this.idle += now - this.since
    }
    this.since = now
    this.inFlight += delta
    if (this.inFlight > this.max) this.max = this.inFlight
  },
  summary(): Instrumented {
    this.step(0)
    const span = this.since - this.first
    return {
      fetchesInFlightMax: this.max,
      fetchesInFlightMean: span > 0 ? this.busyArea / span : 0,
      brokerIdleShare: span > 0 ? this.idle / span : 0,
      fetchRequests: this.fetches,
    }
  },
}

const instrumented = Layer.effectContext(
  Effect.gen(function* () {
    const fetcher = yield* Fetcher.Fetcher
    const lister = yield* OffsetLister.OffsetLister
    const fetch: Context.Tag.Service<Fetcher.Fetcher>["fetch"] = (request) =>
      Effect.suspend(() => {
        wire.fetches++
        wire.step(1)
        return fetcher.fetch(request).pipe(Effect.ensuring(Effect.sync(() => wire.step(-1))))
      })
    const list: Context.Tag.Service<OffsetLister.OffsetLister>["list"] = (partitions, at) =>
      Effect.suspend(() => {
        wire.lists++
        return lister.list(partitions, at)
      })
    // The rest of the port (e.g. which broker leads which partition) is the client's own.
    return Context.make(Fetcher.Fetcher, { ...fetcher, fetch }).pipe(Context.add(OffsetLister.OffsetLister, { ...lister, list }))
  }),
).pipe(Layer.provide(KafkaClient.layer({ brokers: s.bootstrap, clientId: "bench-kafka-effect" })))

const live = Consumer.layer({
  config: { maxWait: s.maxWaitMs, maxPartitionBytes: s.maxPartitionBytes, offsetRecovery: "earliest" },
}).pipe(Layer.provide(instrumented))

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  const partitions = Array.from({ length: s.partitions }, (_, p) => TopicPartition.make(s.topic, p))
  yield* consumer.assign(partitions)
  yield* consumer.seekToBeginning()
  tally.ready()
  if (mode === "chunks") {
    // Not `Stream.runForEachWhile`: in Effect 3.22 its sink nests the rest of the stream in a
    // `catchAll` per element, so a long stream keeps every chunk it ran through (see DESIGN).
    yield* consumer.chunks.pipe(
      Stream.takeUntil((chunk) => tally.n + chunk.length >= s.records),
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          for (const r of chunk) tally.batchRecord(r.partition, Number(r.offset))
          tally.batchDone()
        }),
      ),
    )
  } else {
    // The per-record API as a user writes it: `take` the records wanted, an effect for each. (Effect's
    // `runForEachWhile` would cost about 2 µs more a record: it steps a channel per element, where
    // `runForEach` runs one `Effect.forEach` per chunk.)
    yield* consumer.records.pipe(
      Stream.take(s.records),
      Stream.runForEach((r) =>
        Effect.sync(() => {
          tally.record(r.partition, Number(r.offset))
        }),
      ),
    )
  }
  const result = tally.finish({ instrumented: wire.summary() })
  if (!s.probeOutOfRange) return result
  // Out of range on purpose: a position far past the end; the consumer is configured to reset to
  // the earliest offset, so the next record is offset 0 of that partition.
  const fetchesBefore = wire.fetches
  const listsBefore = wire.lists
  const started = performance.now()
  yield* consumer.seek(partitions[0]!, 1n << 40n)
  const next = yield* consumer.chunks.pipe(Stream.runHead)
  const probe: OutOfRangeProbe = {
    ms: performance.now() - started,
    fetches: wire.fetches - fetchesBefore,
    listOffsets: wire.lists - listsBefore,
    nextOffset: Option.match(Option.flatMap(next, Chunk.head), { onNone: () => -1, onSome: (r) => Number(r.offset) }),
  }
  return { ...result, outOfRange: probe }
}).pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.Warning))

report(await Effect.runPromise(program))
process.exit(0)
