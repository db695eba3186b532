/**
 * The consumer's own cost, with no broker and no socket: core's `Consumer` over a `Fetcher` that
 * answers at once from record batches held in memory, decoded by the kafka package's own decoder
 * (the bytes of each answer copied first, as a socket would hand them over). What is left is the
 * decoding, the fetch loop, the buffer, the stream and the Effect runtime: the part of a record's
 * CPU that is ours whatever the broker.
 *
 *   node --import tsx bench/consumer-path.ts [--records 400000] [--rounds 5] [--mode chunks|records] [--keyHeader]
 *     [--maxBytes n] [--fetchBufferBytes n] [--partitionBytes n] [--eager]
 *
 * (`node --import tsx`, as the bench runs its peers: the `tsx` command runs the script in a child
 * process whose GC behaves differently.) V8's allocation-site pretenuring makes rounds bimodal:
 * compare medians over several rounds, and runs with `--no-allocation-site-pretenuring` besides.
 *
 * Prints µs of CPU and of wall time a record for each round, and the median.
 */
import { Consumer, Fetcher, OffsetLister, TopicPartition } from "@kafka-effect/core"
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { partitionResult } from "../packages/kafka/src/internal/fetchResponse.js"
import { decodeRecordSet } from "../packages/kafka/src/internal/recordBatch.js"
import { encodeBatch } from "../packages/testkit/src/wire/protocol/RecordBatch.js"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback
}
const RECORDS = Number(option("records", "400000"))
const ROUNDS = Number(option("rounds", "5"))
const MODE = option("mode", "chunks")
const KEY_HEADER = argv.includes("--keyHeader")
/** Decode every answer when it comes (the consumer asks for decoding at hand-out). */
const EAGER = argv.includes("--eager")
const MAX_BYTES = option("maxBytes", "")
const BUFFER_BYTES = option("fetchBufferBytes", "")
const PARTITIONS = 16
const PER_BATCH = 500
const PARTITION_MAX_BYTES = Number(option("partitionBytes", "1048576"))
const topic = "bench"

interface Log {
  readonly bytes: Buffer
  /** Base offset and byte position of every batch. */
  readonly bases: ReadonlyArray<bigint>
  readonly positions: ReadonlyArray<number>
  readonly end: bigint
}

const buildLog = (count: number): Log => {
  const value = new Uint8Array(100).fill(7)
  const key = KEY_HEADER ? new Uint8Array(16).fill(3) : null
  const headers = KEY_HEADER ? [{ key: "trace", value: new Uint8Array(16).fill(1) }] : []
  const parts: Array<Uint8Array> = []
  const bases: Array<bigint> = []
  const positions: Array<number> = []
  let at = 0
  for (let offset = 0; offset < count; offset += PER_BATCH) {
    const n = Math.min(PER_BATCH, count - offset)
    const batch = encodeBatch(
      Array.from({ length: n }, (_, i) => ({ offset: BigInt(offset + i), timestamp: 1_700_000_000_000 + i, key, value, headers })),
    )
    bases.push(BigInt(offset))
    positions.push(at)
    parts.push(batch)
    at += batch.length
  }
  return { bytes: Buffer.concat(parts), bases, positions, end: BigInt(count) }
}

const logs = Array.from({ length: PARTITIONS }, () => buildLog(Math.ceil(RECORDS / PARTITIONS)))

/** The batches from the one holding `offset`, whole, up to `maxBytes` (at least one batch). */
const slice = (log: Log, offset: bigint, maxBytes: number): Buffer => {
  let i = log.bases.length - 1
  while (i > 0 && log.bases[i]! > offset) i--
  if (offset >= log.end) return Buffer.alloc(0)
  const start = log.positions[i]!
  let j = i + 1
  while (j < log.positions.length && log.positions[j]! - start <= maxBytes) j++
  const end = j < log.positions.length ? log.positions[j]! : log.bytes.length
  const stop = end - start > maxBytes && j > i + 1 ? log.positions[j - 1]! : end
  return Buffer.from(log.bytes.subarray(start, stop))
}

let fetches = 0
const fetcher = Layer.succeed(Fetcher.Fetcher, {
  fetch: (request) =>
    Effect.promise(async () => {
      fetches++
      let budget = request.maxBytes
      const out: Array<Fetcher.PartitionFetchResult> = []
      for (const p of request.partitions) {
        const log = logs[p.partition]!
        const bytes = budget > 0 ? slice(log, p.offset, Math.min(p.maxBytes, budget)) : Buffer.alloc(0)
        budget -= bytes.length
        const set = await decodeRecordSet(bytes, { fetchOffset: p.offset })
        out.push(
          partitionResult(
            {
              topic,
              partition: p.partition,
              errorCode: 0,
              highWatermark: log.end,
              lastStableOffset: log.end,
              logStartOffset: 0n,
              abortedTransactions: [],
              batches: set.batches,
              legacyFormat: false,
              corrupt: set.corrupt,
            },
            p.offset,
            request.isolationLevel,
            request.deferDecoding === true && !EAGER,
          ),
        )
      }
      return out
    }),
})

const lister = Layer.succeed(OffsetLister.OffsetLister, {
  list: (partitions, spec) =>
    Effect.succeed(partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: spec === "latest" ? logs[p.partition]!.end : 0n }))),
})

const round = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  yield* consumer.assign(Array.from({ length: PARTITIONS }, (_, p) => TopicPartition.make(topic, p)))
  yield* consumer.seekToBeginning()
  let n = 0
  let sum = 0
  fetches = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  if (MODE === "records") {
    yield* consumer.records.pipe(
      Stream.take(RECORDS),
      Stream.runForEach((r) =>
        Effect.sync(() => {
          n++
          sum += Number(r.offset)
        }),
      ),
    )
  } else {
    yield* consumer.chunks.pipe(
      Stream.takeUntil((chunk) => n + chunk.length >= RECORDS),
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          for (const r of chunk) {
            n++
            sum += Number(r.offset)
          }
        }),
      ),
    )
  }
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { n, sum, fetches, cpuUs: (cpu.user + cpu.system) / n, wallUs: (wall * 1000) / n }
}).pipe(
  Effect.provide(Consumer.layer({ config: {
      maxWait: 10,
      maxPartitionBytes: PARTITION_MAX_BYTES,
      ...(MAX_BYTES === "" ? {} : { maxBytes: Number(MAX_BYTES) }),
      ...(BUFFER_BYTES === "" ? {} : { fetchBufferBytes: Number(BUFFER_BYTES) }),
    } }).pipe(Layer.provide(Layer.merge(fetcher, lister)))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
)

const results: Array<{ cpuUs: number; wallUs: number }> = []
for (let i = 0; i < ROUNDS; i++) {
  const r = await Effect.runPromise(round)
  if (r.n < RECORDS) throw new Error(`round ${i}: ${r.n} records of ${RECORDS}`)
  results.push(r)
  // Under --expose-gc: what is left once a round is over (nothing should grow from round to round).
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    process.stdout.write(`  heap after a full GC: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB\n`)
  }
  process.stdout.write(`round ${i}: ${r.cpuUs.toFixed(3)} µs CPU, ${r.wallUs.toFixed(3)} µs wall a record (${r.n} records, ${r.fetches} fetches)\n`)
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
process.stdout.write(
  `${MODE}${KEY_HEADER ? " keyHeader" : ""}: median ${median(results.map((r) => r.cpuUs)).toFixed(3)} µs CPU, ${median(results.map((r) => r.wallUs)).toFixed(3)} µs wall a record; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
)
