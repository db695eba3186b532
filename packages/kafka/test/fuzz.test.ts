/**
 * A seeded, bounded fuzz of the Fetch receive path: valid Fetch responses (versions 4, 5, 7 and 11;
 * several topics and partitions; plain and gzip batches, headers, null keys, aborted transactions)
 * are mutated (bit flips, int32 fields overwritten with edge values, truncation, bytes inserted or
 * removed, spans repeated) and fed to the decoder with and without CRC checks. The only exceptions
 * that may leave it are `MalformedResponse` (a broken response structure); everything else is a
 * per-partition result. Delivered records must be in offset order at or above the fetch offset, the
 * next offset must move forward, and memory must stay near the size of the input.
 */
import { describe, it } from "@effect/vitest"
import type { Fetcher } from "@kafka-effect/core"
import { Effect } from "effect"
import { expect } from "vitest"
import { decodeFetchResponse, MalformedResponse, partitionResult } from "../src/internal/fetchResponse.js"
import * as HostileBroker from "./harness/HostileBroker.js"

/** mulberry32: a small seeded PRNG, so that a failure can be replayed from its seed. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const SEED = 0x6b61666b
const INPUTS = 4000
const VERSIONS = [4, 5, 7, 11] as const

interface Base {
  readonly version: number
  readonly payload: Buffer
  readonly partitions: ReadonlyArray<Fetcher.FetchPartition>
}

const bases = async (random: () => number): Promise<ReadonlyArray<Base>> => {
  const out: Array<Base> = []
  for (let k = 0; k < 24; k++) {
    const version = VERSIONS[k % VERSIONS.length]!
    const answers: Array<HostileBroker.PartitionAnswer & { aborted?: ReadonlyArray<{ producerId: bigint; firstOffset: bigint }> }> = []
    const partitions: Array<Fetcher.FetchPartition> = []
    for (const topic of ["fuzz-a", "fuzz-b"].slice(0, 1 + (k % 2))) {
      for (let p = 0; p < 1 + (k % 3); p++) {
        let offset = BigInt(Math.floor(random() * 100))
        const fetchOffset = offset + BigInt(Math.floor(random() * 3))
        const batches: Array<Buffer> = []
        for (let b = 0; b < 1 + ((k + p) % 3); b++) {
          const n = 1 + Math.floor(random() * 5)
          batches.push(
            await HostileBroker.batch({
              baseOffset: offset,
              values: Array.from({ length: n }, (_, i) => `${topic}-${p}-${offset + BigInt(i)}-${"é".repeat(i)}`),
              compression: (k + b) % 4 === 0 ? 1 : 0,
              headers: b % 2 === 1,
              ...(k % 5 === 0 ? { transactional: true, producerId: 7n } : {}),
            }),
          )
          offset += BigInt(n)
        }
        answers.push({
          topic,
          partition: p,
          records: Buffer.concat(batches),
          highWatermark: offset,
          ...(k % 5 === 0 ? { aborted: [{ producerId: 7n, firstOffset: fetchOffset }] } : {}),
        })
        partitions.push({ topic, partition: p, offset: fetchOffset, maxBytes: 1 << 20 })
      }
    }
    out.push({ version, payload: HostileBroker.fetchResponse(version, answers), partitions })
  }
  return out
}

const EDGE_INT32 = [0, 1, -1, -2, 0x7fffffff, -0x80000000, 0x7ffffff0, 48, 49, 61, 1 << 20]

const mutate = (input: Buffer, random: () => number): Buffer => {
  const pick = (n: number) => Math.floor(random() * n)
  let b = Buffer.from(input)
  const steps = 1 + pick(4)
  for (let s = 0; s < steps && b.length > 0; s++) {
    switch (pick(6)) {
      case 0: // bit flips
        for (let i = 0, n = 1 + pick(8); i < n; i++) b[pick(b.length)] ^= 1 << pick(8)
        break
      case 1: {
        // an int32 field overwritten with an edge value
        if (b.length < 4) break
        const at = pick(b.length - 3)
        b.writeInt32BE(EDGE_INT32[pick(EDGE_INT32.length)]!, at)
        break
      }
      case 2: // truncation
        b = b.subarray(0, pick(b.length))
        break
      case 3: {
        // bytes inserted
        const at = pick(b.length)
        const extra = Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256)))
        b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)])
        break
      }
      case 4: {
        // bytes removed
        const at = pick(b.length)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(16))])
        break
      }
      case 5: {
        // a span repeated
        const at = pick(b.length)
        const span = b.subarray(at, at + 1 + pick(64))
        b = Buffer.concat([b.subarray(0, at), span, b.subarray(at)])
        break
      }
    }
  }
  return b
}

describe("fuzz: mutated Fetch responses", () => {
  it.effect(`${INPUTS} inputs from seed ${SEED.toString(16)}: typed failures only, sane results, bounded memory`, () =>
    Effect.promise(async () => {
      const random = prng(SEED)
      const inputs = await bases(random)
      const crashes: Array<string> = []
      const outcomes = { decoded: 0, malformed: 0, partitionsCorrupt: 0, records: 0 }
      const baseline = process.memoryUsage().arrayBuffers
      let peak = baseline
      for (let i = 0; i < INPUTS; i++) {
        const base = inputs[i % inputs.length]!
        const payload = mutate(base.payload, random)
        const checkCrcs = i % 2 === 0
        const offsets = new Map(base.partitions.map((p) => [`${p.topic}-${p.partition}`, p.offset]))
        try {
          const raw = await decodeFetchResponse(payload, base.version, { checkCrcs, partitions: base.partitions })
          outcomes.decoded++
          for (const p of raw.partitions) {
            const fetchOffset = offsets.get(`${p.topic}-${p.partition}`)!
            const result = partitionResult(p, fetchOffset, i % 3 === 0 ? "read_committed" : "read_uncommitted")
            if (result._tag === "Error") {
              if (result.error._tag !== "CorruptRecordBatch") crashes.push(`#${i}: unexpected ${result.error._tag}`)
              outcomes.partitionsCorrupt++
              continue
            }
            let previous = fetchOffset - 1n
            for (const r of result.records) {
              if (r.offset <= previous) crashes.push(`#${i}: offset ${r.offset} after ${previous} (fetch at ${fetchOffset})`)
              previous = r.offset
            }
            if (result.nextOffset !== undefined && result.nextOffset <= fetchOffset) crashes.push(`#${i}: nextOffset ${result.nextOffset} <= ${fetchOffset}`)
            outcomes.records += result.records.length
          }
        } catch (e) {
          // A codec that kafkajs has not registered (a flipped codec bit) is a typed, whole-response failure too.
          if (e instanceof MalformedResponse || (e instanceof Error && e.name === "KafkaJSNotImplemented")) outcomes.malformed++
          else crashes.push(`#${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
        }
        if (i % 100 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers)
      }
      process.stderr.write(
        `fuzz: ${INPUTS} inputs, ${outcomes.decoded} decoded (${outcomes.records} records, ${outcomes.partitionsCorrupt} corrupt partitions), ${outcomes.malformed} malformed, ${crashes.length} crashes, array buffers peak +${Math.round((peak - baseline) / 1024)} KiB\n`,
      )
      expect(crashes).toEqual([])
      // Every kind of outcome was reached: the mutations are neither all harmless nor all fatal.
      expect(outcomes.decoded).toBeGreaterThan(0)
      expect(outcomes.malformed).toBeGreaterThan(0)
      expect(outcomes.partitionsCorrupt).toBeGreaterThan(0)
      expect(peak - baseline).toBeLessThan(64 * 1024 * 1024)
    }),
  )
})
