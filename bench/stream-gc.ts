/**
 * What handing chunks through an Effect `Stream` costs the garbage collector, with no consumer,
 * broker or socket: the same pull (one partition of an in-memory answer decoded by the kafka
 * package's decoder per call, 400k records of 100 bytes over 16 partitions) consumed
 *
 *   loop       in a loop over the pull;
 *   drain      inside the pull, the stream emitting nothing but a number (`Stream.runDrain`);
 *   forEach    by `Stream.runForEach` on the emitted chunks (what a consumer's user does);
 *   takeUntil  the same behind `Stream.takeUntil` (as `bench/consumer-path.ts` does).
 *
 *   node --import tsx bench/stream-gc.ts [--rounds 5] [--variant all|loop|…]
 *
 * Prints the median µs of CPU a record of each; `node --trace-gc-nvp` shows what the young generation
 * promotes. Stop 21 measured (3 rounds) 0.17–0.23 µs and 37 MB promoted for `loop`, 0.16–0.21 µs
 * for `drain`, and 0.60–0.67 µs with 165–267 MB promoted for `forEach` and `takeUntil`; pulls of
 * about 1,000 records instead of a partition's 9,000 promoted as much.
 */
import type { ConsumerRecord } from "@kafka-effect/core"
import { Chunk, Effect, Option, Stream } from "effect"
import { partitionResult } from "../packages/kafka/src/internal/fetchResponse.js"
import { decodeRecordSet } from "../packages/kafka/src/internal/recordBatch.js"
import { encodeBatch } from "../packages/testkit/src/wire/protocol/RecordBatch.js"
import { median } from "./report.js"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback
}
const ROUNDS = Number(option("rounds", "5"))
const VARIANT = option("variant", "all")
const RECORDS = 400_000
const PARTITIONS = 16
const PER_BATCH = 500
const PARTITION_BYTES = 1_048_576

/** Each partition's log as record batches, and where each batch starts. */
const logs = Array.from({ length: PARTITIONS }, () => {
  const value = new Uint8Array(100).fill(7)
  const parts: Array<Uint8Array> = []
  for (let offset = 0; offset < RECORDS / PARTITIONS; offset += PER_BATCH) {
    parts.push(encodeBatch(Array.from({ length: PER_BATCH }, (_, i) => ({ offset: BigInt(offset + i), timestamp: 0, key: null, value, headers: [] }))))
  }
  return parts
})

/** Answers of up to `PARTITION_BYTES` a partition (whole batches, copied as a socket hands them over), one partition a pull. */
const makePull = () => {
  const next = Array.from({ length: PARTITIONS }, () => 0)
  let partition = 0
  let delivered = 0
  return Effect.promise(async (): Promise<Option.Option<Chunk.Chunk<ConsumerRecord.ConsumerRecord>>> => {
    while (delivered < RECORDS) {
      const p = partition
      partition = (partition + 1) % PARTITIONS
      const log = logs[p]!
      if (next[p]! >= log.length) continue
      const batches: Array<Uint8Array> = []
      let bytes = 0
      while (next[p]! < log.length && (batches.length === 0 || bytes + log[next[p]!]!.length <= PARTITION_BYTES)) {
        bytes += log[next[p]!]!.length
        batches.push(log[next[p]!]!)
        next[p]!++
      }
      const fetchOffset = BigInt((next[p]! - batches.length) * PER_BATCH)
      const set = await decodeRecordSet(Buffer.concat(batches), { fetchOffset })
      const result = partitionResult(
        { topic: "t", partition: p, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, abortedTransactions: [], batches: set.batches, legacyFormat: false, corrupt: set.corrupt },
        fetchOffset,
        "read_uncommitted",
        true,
      )
      if (result._tag !== "Records" || result.deferred === undefined) continue
      const records = result.deferred.decode().records
      delivered += records.length
      return Option.some(Chunk.unsafeFromArray(records))
    }
    return Option.none()
  })
}

const variants: Record<string, (pull: ReturnType<typeof makePull>, count: (c: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => void) => Effect.Effect<void>> = {
  loop: (pull, count) =>
    Effect.gen(function* () {
      for (;;) {
        const chunk = yield* pull
        if (Option.isNone(chunk)) return
        count(chunk.value)
      }
    }),
  drain: (pull, count) =>
    Stream.repeatEffectOption(Effect.flatMap(pull, Option.match({ onNone: () => Effect.fail(Option.none()), onSome: (c) => Effect.sync(() => count(c)) }))).pipe(Stream.runDrain),
  forEach: (pull, count) =>
    Stream.repeatEffectOption(Effect.flatMap(pull, Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed }))).pipe(
      Stream.runForEach((c) => Effect.sync(() => count(c))),
    ),
  takeUntil: (pull, count) => {
    let n = 0
    return Stream.repeatEffectOption(Effect.flatMap(pull, Option.match({ onNone: () => Effect.fail(Option.none()), onSome: Effect.succeed }))).pipe(
      Stream.takeUntil((c) => {
        n += c.length
        return n >= RECORDS
      }),
      Stream.runForEach((c) => Effect.sync(() => count(c))),
    )
  },
}

for (const name of VARIANT === "all" ? Object.keys(variants) : [VARIANT]) {
  const variant = variants[name]
  if (variant === undefined) throw new Error(`--variant ${name}: expected all or one of ${Object.keys(variants).join(", ")}`)
  const cpus: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    let n = 0
    let sum = 0
    const count = (c: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => {
      for (const r of c) {
        n++
        sum += Number(r.offset)
      }
    }
    const cpu0 = process.cpuUsage()
    await Effect.runPromise(variant(makePull(), count))
    const cpu = process.cpuUsage(cpu0)
    // Offsets 0..24999 in each of the 16 partitions.
    if (n !== RECORDS || sum !== PARTITIONS * ((RECORDS / PARTITIONS) * (RECORDS / PARTITIONS - 1)) / 2) throw new Error(`${name}: ${n} records, offset sum ${sum}`)
    cpus.push((cpu.user + cpu.system) / n)
  }
  process.stdout.write(`${name.padEnd(10)} median ${median(cpus).toFixed(3)} µs CPU a record\n`)
}
