/**
 * Micro-benchmark of the fetch path's decoding: 16 partitions × 1 MiB of 100-byte records (and the
 * variant with a 16-byte key and one header), decoded many times; prints ns/record and the CRC-32C's MB/s.
 * Run: npx tsx bench/decode.ts
 */
import { Crc32c } from "@kafka-effect/core"
import type { ConsumerRecord } from "@kafka-effect/core"
import { implementation, nativeCrc32c } from "../packages/kafka/src/internal/crc.js"
import { decodeRecordSet, decodeRecordsInto } from "../packages/kafka/src/internal/recordBatch.js"
import { encodeBatch } from "../packages/testkit/src/wire/protocol/RecordBatch.js"

const PARTITIONS = 16
const PARTITION_BYTES = 1024 * 1024
const RECORDS_PER_BATCH = 500

const partitionSet = (withKeyAndHeader: boolean): Buffer => {
  const value = new Uint8Array(100).fill(7)
  const key = withKeyAndHeader ? new Uint8Array(16).fill(3) : null
  const headers = withKeyAndHeader ? [{ key: "trace-id", value: new Uint8Array(8).fill(1) }] : []
  const chunks: Array<Uint8Array> = []
  let size = 0
  let offset = 0n
  while (size < PARTITION_BYTES) {
    const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
      offset: offset + BigInt(i),
      timestamp: 1_700_000_000_000 + i,
      key,
      value,
      headers,
    }))
    const batch = encodeBatch(records)
    chunks.push(batch)
    size += batch.length
    offset += BigInt(RECORDS_PER_BATCH)
  }
  return Buffer.concat(chunks)
}

const decodeAll = async (sets: ReadonlyArray<Buffer>): Promise<number> => {
  let count = 0
  for (let p = 0; p < sets.length; p++) {
    const set = await decodeRecordSet(sets[p]!, { checkCrcs: true })
    const out: Array<ConsumerRecord.ConsumerRecord> = []
    for (const batch of set.batches) decodeRecordsInto(batch, "bench", p, 0n, out)
    count += out.length
  }
  return count
}

const run = async (name: string, withKeyAndHeader: boolean): Promise<void> => {
  const one = partitionSet(withKeyAndHeader)
  const sets = Array.from({ length: PARTITIONS }, () => Buffer.from(one))
  for (let i = 0; i < 5; i++) await decodeAll(sets)
  const rounds = 30
  let records = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) records += await decodeAll(sets)
  const ns = Number(process.hrtime.bigint() - start)
  process.stdout.write(`${name}: ${(ns / records).toFixed(1)} ns/record (${records / rounds} records a fetch answer)\n`)
}

const crcRate = (name: string, crc: (bytes: Uint8Array, start?: number, end?: number) => number): void => {
  // Batch-sized ranges (500 records of 100 bytes), as the fetch path checks them.
  const bytes = Buffer.alloc(PARTITION_BYTES, 0x5a)
  const step = 56_000
  const pass = (): void => {
    for (let at = 0; at + step <= bytes.length; at += step) crc(bytes, at, at + step)
  }
  for (let i = 0; i < 20; i++) pass()
  const rounds = 200
  const start = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) pass()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const covered = Math.floor(bytes.length / step) * step
  process.stdout.write(`CRC-32C (${name}): ${((rounds * covered) / 1e6 / seconds).toFixed(0)} MB/s\n`)
}

await run("100-byte values", false)
await run("16-byte key + one header + 100-byte values", true)
crcRate("JS, slicing-by-8", Crc32c.crc32c)
if (nativeCrc32c !== undefined) crcRate("native, @node-rs/crc32", nativeCrc32c)
process.stdout.write(`the fetch path uses the ${implementation} CRC-32C\n`)
