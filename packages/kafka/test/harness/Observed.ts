/**
 * What a user of the consumer can observe, for tests against real brokers: the calls the consumer
 * makes through its `Fetcher` and `OffsetLister` ports (each is one request per partition leader
 * in `KafkaClient`) and records as short strings (logs: `TestKit.makeLogCapture`).
 */
import { Consumer, ConsumerRecord, Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Chunk, Effect, Stream } from "effect"

export interface Calls {
  /** One entry per `fetch`: the partitions and offsets asked for, `topic-partition@offset`. */
  readonly fetches: Array<ReadonlyArray<string>>
  /** One entry per `list`: `spec:topic-partition,…`. */
  readonly lists: Array<string>
}

/**
 * A consumer over the `Fetcher` and `OffsetLister` in context, with every call it makes through
 * them recorded in `calls`.
 */
export const observedConsumer = (options: Consumer.MakeOptions<never> = {}) =>
  Effect.gen(function* () {
    const fetcher = yield* Fetcher.Fetcher
    const lister = yield* OffsetLister.OffsetLister
    const calls: Calls = { fetches: [], lists: [] }
    const consumer = yield* Consumer.make(options).pipe(
      Effect.provideService(Fetcher.Fetcher, {
        ...fetcher,
        fetch: (request) =>
          Effect.zipRight(
            Effect.sync(() => calls.fetches.push(request.partitions.map((p) => `${TopicPartition.format(p)}@${p.offset}`))),
            fetcher.fetch(request),
          ),
      }),
      Effect.provideService(OffsetLister.OffsetLister, {
        list: (partitions, spec) =>
          Effect.zipRight(
            Effect.sync(() => calls.lists.push(`${spec}:${partitions.map(TopicPartition.format).join(",")}`)),
            lister.list(partitions, spec),
          ),
      }),
    )
    return { consumer, calls }
  })

/** `partition@offset=value` per record. */
export const seen = (records: Iterable<ConsumerRecord.ConsumerRecord>): ReadonlyArray<string> =>
  [...records].map((r) => `${r.partition}@${r.offset}=${ConsumerRecord.utf8(r.value)}`)

/** The next `n` records of the consumer's stream. */
export const take = <E>(consumer: Consumer.Service<E>, n: number) =>
  consumer.records.pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
