/**
 * A small hand-made broker for core's unit tests: partitions with a log start and a high watermark,
 * a Fetcher that long-polls on the Clock, an OffsetLister, a request log and fault hooks.
 */
import { Deferred, Effect, Layer, Option, Ref } from "effect"
import type { ConsumerRecord } from "../../src/ConsumerRecord.js"
import { Fetcher, type PartitionFetchResult } from "../../src/Fetcher.js"
import {
  type FetchFailure,
  type ListOffsetsFailure,
  OffsetOutOfRange,
  type PartitionFetchError,
} from "../../src/KafkaError.js"
import { OffsetLister } from "../../src/OffsetLister.js"
import * as TopicPartition from "../../src/TopicPartition.js"

interface Log {
  logStart: bigint
  records: Array<ConsumerRecord>
  hw: bigint
}

export interface Request {
  readonly api: "Fetch" | "ListOffsets"
  readonly spec?: "earliest" | "latest"
  readonly partitions: ReadonlyArray<string>
  readonly offsets?: ReadonlyArray<bigint>
}

const encoder = new TextEncoder()

export const makeFakeBroker = Effect.gen(function* () {
  const logs = new Map<string, Log>()
  const requests = yield* Ref.make<Array<Request>>([])
  /** Failures for the next ListOffsets calls, in order. */
  const listFaults = yield* Ref.make<Array<ListOffsetsFailure>>([])
  /** Failures of the next whole Fetch requests, in order. */
  const requestFaults = yield* Ref.make<Array<FetchFailure>>([])
  /** Per-partition errors answered by the next fetches (`remaining` times). */
  const fetchFaults = new Map<string, { error: PartitionFetchError; remaining: number }>()
  /** When set, a fetch computes its answer, then waits for this gate before answering. */
  const gate = yield* Ref.make<Option.Option<Deferred.Deferred<void>>>(Option.none())
  const fetchStarted = yield* Ref.make<Option.Option<Deferred.Deferred<void>>>(Option.none())

  const logOf = (topic: string, partition: number) => {
    const k = TopicPartition.key({ topic, partition })
    let log = logs.get(k)
    if (log === undefined) {
      log = { logStart: 0n, records: [], hw: 0n }
      logs.set(k, log)
    }
    return log
  }

  const produce = (topic: string, partition: number, values: ReadonlyArray<string>) =>
    Effect.sync(() => {
      const log = logOf(topic, partition)
      for (const v of values) {
        log.records.push({
          topic,
          partition,
          offset: log.hw,
          timestamp: 0,
          key: null,
          value: encoder.encode(v),
          headers: [],
        })
        log.hw++
      }
    })

  const deleteRecords = (topic: string, partition: number, before: bigint) =>
    Effect.sync(() => {
      const log = logOf(topic, partition)
      log.logStart = before
      log.records = log.records.filter((r) => r.offset >= before)
    })

  const truncate = (topic: string, partition: number, to: bigint) =>
    Effect.sync(() => {
      const log = logOf(topic, partition)
      log.hw = to
      log.records = log.records.filter((r) => r.offset < to)
    })

  const answer = (partitions: ReadonlyArray<{ topic: string; partition: number; offset: bigint }>) =>
    partitions.map((p): PartitionFetchResult => {
      const k = TopicPartition.key(p)
      const fault = fetchFaults.get(k)
      if (fault !== undefined && fault.remaining > 0) {
        fault.remaining--
        return { _tag: "Error", topic: p.topic, partition: p.partition, error: fault.error }
      }
      const log = logOf(p.topic, p.partition)
      if (p.offset < log.logStart || p.offset > log.hw) {
        return {
          _tag: "Error",
          topic: p.topic,
          partition: p.partition,
          error: new OffsetOutOfRange({ topic: p.topic, partition: p.partition, requestedOffset: p.offset }),
        }
      }
      // Like a broker, answer from the start of the batch that holds the offset (here: 2 below).
      const from = p.offset - 2n
      return {
        _tag: "Records",
        topic: p.topic,
        partition: p.partition,
        records: log.records.filter((r) => r.offset >= from),
        highWatermark: log.hw,
        logStartOffset: log.logStart,
        nextOffset: undefined,
      }
    })

  const hasRecords = (results: ReadonlyArray<PartitionFetchResult>, offsets: ReadonlyArray<bigint>) =>
    results.some((r, i) => r._tag === "Error" || r.records.some((rec) => rec.offset >= offsets[i]!))

  const fetcher = Fetcher.of({
    fetch: (request) =>
      Effect.gen(function* () {
        yield* Ref.update(requests, (rs): Array<Request> => [
          ...rs,
          {
            api: "Fetch",
            partitions: request.partitions.map(TopicPartition.key),
            offsets: request.partitions.map((p) => p.offset),
          },
        ])
        const failures = yield* Ref.get(requestFaults)
        if (failures.length > 0) {
          yield* Ref.set(requestFaults, failures.slice(1))
          return yield* Effect.fail(failures[0]!)
        }
        const started = yield* Ref.get(fetchStarted)
        if (Option.isSome(started)) yield* Deferred.succeed(started.value, undefined)
        let results = answer(request.partitions)
        const offsets = request.partitions.map((p) => p.offset)
        if (!hasRecords(results, offsets)) {
          yield* Effect.sleep(request.maxWaitMs)
          results = answer(request.partitions)
        }
        const g = yield* Ref.get(gate)
        if (Option.isSome(g)) yield* Deferred.await(g.value)
        return results
      }),
  })

  const lister = OffsetLister.of({
    list: (partitions, spec) =>
      Effect.gen(function* () {
        yield* Ref.update(requests, (rs): Array<Request> => [
          ...rs,
          { api: "ListOffsets", spec, partitions: partitions.map(TopicPartition.key) },
        ])
        const faults = yield* Ref.get(listFaults)
        if (faults.length > 0) {
          yield* Ref.set(listFaults, faults.slice(1))
          return yield* Effect.fail(faults[0]!)
        }
        return partitions.map((tp) => {
          const log = logOf(tp.topic, tp.partition)
          return { topic: tp.topic, partition: tp.partition, offset: spec === "earliest" ? log.logStart : log.hw }
        })
      }),
  })

  return {
    layer: Layer.mergeAll(Layer.succeed(Fetcher, fetcher), Layer.succeed(OffsetLister, lister)),
    produce,
    deleteRecords,
    truncate,
    requests: Ref.get(requests),
    clearRequests: Ref.set(requests, []),
    failListOffsets: (errors: ReadonlyArray<ListOffsetsFailure>) => Ref.set(listFaults, [...errors]),
    failFetchRequests: (errors: ReadonlyArray<FetchFailure>) => Ref.set(requestFaults, [...errors]),
    failFetch: (tp: TopicPartition.TopicPartition, error: PartitionFetchError, times: number) =>
      Effect.sync(() => fetchFaults.set(TopicPartition.key(tp), { error, remaining: times })),
    setGate: (d: Option.Option<Deferred.Deferred<void>>) => Ref.set(gate, d),
    onFetchStarted: (d: Option.Option<Deferred.Deferred<void>>) => Ref.set(fetchStarted, d),
  }
})

export type FakeBroker = Effect.Effect.Success<typeof makeFakeBroker>
