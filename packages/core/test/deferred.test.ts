/**
 * The consumer over a Fetcher that defers decoding (as the kafka package's does when the consumer
 * asks): records are decoded when their chunk is handed out, each answer once; a record that does
 * not decode ends the stream after the records before it; and nothing keeps a delivered chunk alive.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Stream } from "effect"
import * as Consumer from "../src/Consumer.js"
import type { ConsumerRecord } from "../src/ConsumerRecord.js"
import * as Fetcher from "../src/Fetcher.js"
import { CorruptRecordBatch } from "../src/KafkaError.js"
import * as OffsetLister from "../src/OffsetLister.js"
import * as TopicPartition from "../src/TopicPartition.js"

const tp = TopicPartition.make("t", 0)
const PER_FETCH = 50

interface Log {
  /** Offsets handed to `decode`, per call. */
  readonly decodes: Array<bigint>
  readonly requests: Array<Fetcher.FetchRequest>
}

/**
 * One partition of `end` records, `PER_FETCH` a fetch, each answer's records built fresh when
 * decoded; `corruptAt`: the answer holding that offset fails to decode there; `defer` false: a
 * fetcher that decodes every answer when it comes (as the testkit's does).
 */
const deferring = (end: bigint, corruptAt?: bigint, defer = true) => {
  const log: Log = { decodes: [], requests: [] }
  const fetcher = Layer.succeed(Fetcher.Fetcher, {
    fetch: (request) =>
      Effect.suspend(() => {
        log.requests.push(request)
        // At the end of the log a broker holds the request for maxWait (an instant empty answer
        // would make the fetch loop spin).
        if (request.partitions.every((p) => p.offset >= end)) return Effect.as(Effect.sleep(request.maxWaitMs), [])
        return Effect.succeed(request.partitions.map((p): Fetcher.PartitionFetchResult => {
          const next = p.offset + BigInt(PER_FETCH) < end ? p.offset + BigInt(PER_FETCH) : end
          const base = { _tag: "Records", topic: p.topic, partition: p.partition, highWatermark: end, logStartOffset: 0n } as const
          if (next <= p.offset) return { ...base, records: [], nextOffset: undefined }
          const decode = (): Fetcher.DecodedRecords => {
            log.decodes.push(p.offset)
            const records: Array<ConsumerRecord> = []
            for (let o = p.offset; o < next; o++) {
              if (o === corruptAt) {
                return { records, bytes: records.length * 8, corrupt: new CorruptRecordBatch({ topic: p.topic, partition: p.partition, offset: o, reason: "test" }) }
              }
              records.push({ topic: p.topic, partition: p.partition, offset: o, timestamp: 0, key: null, value: new Uint8Array(8), headers: [] })
            }
            return { records, bytes: records.length * 8, corrupt: undefined }
          }
          return request.deferDecoding === true && defer
            ? { ...base, records: [], nextOffset: undefined, deferred: { next, count: Number(next - p.offset), bytes: Number(next - p.offset) * 8, decode } }
            : { ...base, records: decode().records, nextOffset: undefined }
        }))
      }),
  })
  const lister = Layer.succeed(OffsetLister.OffsetLister, {
    list: (partitions, spec) => Effect.succeed(partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: spec === "latest" ? end : 0n }))),
  })
  return { log, layer: Layer.merge(fetcher, lister) }
}

describe("deferred decoding", () => {
  it.scoped("the consumer asks for it; records come decoded at hand-out, in order, each answer decoded once", () =>
    Effect.gen(function* () {
      const { log, layer } = deferring(500n)
      const consumer = yield* Consumer.make({ config: { maxWait: "10 millis" } }).pipe(Effect.provide(layer))
      yield* consumer.assign([tp])
      yield* consumer.seek(tp, 20n)
      const got = yield* consumer.records.pipe(Stream.take(300), Stream.runCollect)
      expect([...got].map((r) => r.offset)).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(20 + i)))
      expect(log.requests.every((r) => r.deferDecoding === true)).toBe(true)
      // Every delivered answer decoded once; answers fetched ahead and dropped at the end, never.
      expect(new Set(log.decodes).size).toBe(log.decodes.length)
      expect(log.decodes.slice(0, 6)).toEqual([20n, 70n, 120n, 170n, 220n, 270n])
      expect(yield* consumer.position(tp)).toBe(320n)
    }),
  )

  it.scoped("a record that does not decode: the records before it, then CorruptRecordBatch at it; the next run fails there again", () =>
    Effect.gen(function* () {
      const { layer } = deferring(500n, 130n)
      const consumer = yield* Consumer.make({ config: { maxWait: "10 millis" } }).pipe(Effect.provide(layer))
      yield* consumer.assign([tp])
      yield* consumer.seek(tp, 0n)
      const seen: Array<bigint> = []
      const run = consumer.chunks.pipe(
        Stream.runForEach((chunk) => Effect.sync(() => seen.push(...Chunk.map(chunk, (r) => r.offset)))),
        Effect.exit,
      )
      const first = yield* run
      expect(seen).toEqual(Array.from({ length: 130 }, (_, i) => BigInt(i)))
      expect(Exit.isFailure(first) && Cause.squash(first.cause)).toMatchObject({ _tag: "CorruptRecordBatch", offset: 130n })
      expect(yield* consumer.position(tp)).toBe(130n)
      seen.length = 0
      const second = yield* run
      expect(seen).toEqual([])
      expect(Exit.isFailure(second) && Cause.squash(second.cause)).toMatchObject({ _tag: "CorruptRecordBatch", offset: 130n })
      yield* consumer.seek(tp, 131n)
      const after = yield* consumer.records.pipe(Stream.take(3), Stream.runCollect)
      expect([...after].map((r) => r.offset)).toEqual([131n, 132n, 133n])
    }),
  )

  for (const defer of [true, false]) {
  it.live(`a delivered chunk is the user's (${defer ? "deferred" : "decoded"} answers): once let go, no chunk before the current one stays reachable`, () =>
    Effect.gen(function* () {
      v8.setFlagsFromString("--expose-gc")
      const gc = vm.runInNewContext("gc") as () => void
      const { layer } = deferring(100_000n, undefined, defer)
      const refs: Array<WeakRef<ConsumerRecord>> = []
      const alive: Array<number> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          const consumer = yield* Consumer.make({ config: { maxWait: "10 millis" } }).pipe(Effect.provide(layer))
          yield* consumer.assign([tp])
          yield* consumer.seek(tp, 0n)
          yield* consumer.chunks.pipe(
            Stream.take(24),
            Stream.runForEach((chunk) =>
              Effect.gen(function* () {
                if (refs.length >= 8 && refs.length % 4 === 0) {
                  // Chunks before the one in hand whose first record is still reachable, after a
                  // macrotask (WeakRefs made in a job keep their targets until it ends) and a full GC.
                  // Up to three times, in this same pull: what the fetch loop running meanwhile
                  // holds for a moment is not what this looks for; a reference that the stream
                  // keeps while the user holds the next chunk is there every time.
                  let still = refs.length
                  for (let attempt = 0; attempt < 3 && still > 0; attempt++) {
                    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
                    gc()
                    still = refs.filter((r) => r.deref() !== undefined).length
                  }
                  alive.push(still)
                }
                refs.push(new WeakRef(Chunk.unsafeGet(chunk, 0)))
              }),
            ),
          )
        }),
      )
      // Checked at chunks 8, 12, 16 and 20 (the first ones are left to the stream's start).
      expect(alive).toEqual([0, 0, 0, 0])
    }),
    30_000,
  )
  }
})
