/**
 * How fast the live layer fetches and decodes: from librdkafka's mock cluster over loopback TCP, and
 * the record decoder alone (ours against kafkajs's, on the same bytes). The assertions are on
 * correctness (every record, in order); the rates are printed for the record.
 */
import { layer } from "@effect/vitest"
import { TopicPartition } from "@kafka-effect/core"
import { Effect } from "effect"
import { expect } from "vitest"
import { partitionRecords } from "../src/internal/fetchResponse.js"
import { Decoder, decodeRecordBatch, encodeRecord, encodeRecordBatch } from "../src/internal/kafkajs.js"
import { decodeRecordSet } from "../src/internal/recordBatch.js"
import { drain } from "./harness/drain.js"
import * as MockCluster from "./harness/MockCluster.js"
import * as MockTestBroker from "./harness/MockTestBroker.js"
import * as Producer from "./harness/Producer.js"

const RECORDS = 60_000
const PARTITIONS = 3
const VALUE = "x".repeat(100)
const ROUNDS = 5

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

layer(MockTestBroker.layer(1), { excludeTestServices: true, timeout: "60 seconds" })("throughput", (it) => {
  it.effect(
    `fetches ${RECORDS} records of 100 bytes from the mock (${ROUNDS} rounds) and measures records/s`,
    () =>
      Effect.gen(function* () {
        const mock = yield* MockCluster.MockCluster
        const producer = yield* Producer.Producer
        yield* mock.createTopic("throughput", PARTITIONS)
        const perPartition = RECORDS / PARTITIONS
        for (let p = 0; p < PARTITIONS; p++) {
          for (let i = 0; i < perPartition; i += 5000) {
            yield* producer.send(
              "throughput",
              p,
              Array.from({ length: 5000 }, (_, j) => ({ key: `key-${i + j}`, value: VALUE })),
            )
          }
        }
        const targets = Array.from({ length: PARTITIONS }, (_, partition) => ({
          topic: "throughput",
          partition,
          from: 0n,
          until: BigInt(perPartition),
        }))
        const rates: Array<number> = []
        for (let round = 0; round < ROUNDS; round++) {
          const started = performance.now()
          const drained = yield* drain(targets, { maxPartitionBytes: 1 << 20 })
          const ms = performance.now() - started
          let total = 0
          for (let p = 0; p < PARTITIONS; p++) {
            const got = drained.records.get(TopicPartition.key({ topic: "throughput", partition: p }))!
            total += got.length
            expect(got.length).toBe(perPartition)
            for (let i = 0; i < got.length; i++) {
              if (got[i]!.offset !== BigInt(i)) expect(got[i]!.offset).toBe(BigInt(i))
            }
          }
          expect(total).toBe(RECORDS)
          rates.push(Math.round((total / ms) * 1000))
        }
        console.log(
          `throughput (mock, loopback, 1 broker, ${PARTITIONS} partitions, 100-byte values): median ${median(rates)} records/s, best ${Math.max(...rates)} (rounds: ${rates.join(", ")})`,
        )
      }),
    60_000,
  )

  it.effect("decoder alone: ours against kafkajs's RecordBatch decoder on the same bytes", () =>
    Effect.promise(async () => {
      const batches = await Promise.all(
        Array.from({ length: 20 }, (_, b) =>
          encodeRecordBatch({
            firstOffset: String(b * 1000),
            lastOffsetDelta: 999,
            records: Array.from({ length: 1000 }, (_, i) =>
              encodeRecord({ offsetDelta: i, key: Buffer.from(`key-${i}`), value: Buffer.from(VALUE) }),
            ),
          }),
        ),
      )
      const bytes = Buffer.concat(batches.map((b) => Buffer.from(b.buffer)))
      const raw = { topic: "t", partition: 0, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n, abortedTransactions: [] }
      const time = async (f: () => Promise<number>) => {
        const samples: Array<number> = []
        for (let i = 0; i < 7; i++) {
          const started = performance.now()
          const n = await f()
          samples.push(((performance.now() - started) * 1000) / n)
          expect(n).toBe(20_000)
        }
        return median(samples)
      }
      const ours = await time(async () => partitionRecords({ ...raw, ...(await decodeRecordSet(bytes)) }, 0n, "read_uncommitted").records.length)
      const theirs = await time(async () => {
        const d = new Decoder(bytes)
        let n = 0
        while (d.canReadBytes(49)) n += (await decodeRecordBatch(d)).records.length
        return n
      })
      console.log(`decode: ours ${ours.toFixed(3)} µs/record, kafkajs ${theirs.toFixed(3)} µs/record (100-byte values, short keys, 20 batches of 1000)`)
    }),
  )
})
