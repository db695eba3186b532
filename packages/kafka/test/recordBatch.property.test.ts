/**
 * The records decoder against an independent encoder written from the Kafka RecordBatch v2 record
 * format (length, attributes, timestampDelta varlong, offsetDelta varint, key, value, headers).
 */
import { describe, it } from "@effect/vitest"
import type { ConsumerRecord } from "@kafka-effect/core"
import { FastCheck } from "effect"
import { expect } from "vitest"
import { type BatchHeader, CorruptBatch, decodeRecordsInto } from "../src/internal/recordBatch.js"

interface Rec {
  readonly timestampDelta: number
  readonly offsetDelta: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: Uint8Array | null }>
}

const zigzag = (n: number, out: Array<number>): void => {
  // As a Number, to cover varlongs beyond 32 bits.
  let v = n >= 0 ? n * 2 : -n * 2 - 1
  while (v >= 128) {
    out.push((v % 128) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
}
const field = (bytes: Uint8Array | null, out: Array<number>): void => {
  if (bytes === null) {
    zigzag(-1, out)
    return
  }
  zigzag(bytes.length, out)
  for (const b of bytes) out.push(b)
}
const encodeRecords = (records: ReadonlyArray<Rec>): Buffer => {
  const all: Array<number> = []
  for (const r of records) {
    const body: Array<number> = [0]
    zigzag(r.timestampDelta, body)
    zigzag(r.offsetDelta, body)
    field(r.key, body)
    field(r.value, body)
    zigzag(r.headers.length, body)
    for (const h of r.headers) {
      field(new TextEncoder().encode(h.key), body)
      field(h.value, body)
    }
    zigzag(body.length, all)
    for (const b of body) all.push(b)
  }
  return Buffer.from(all)
}

const bytes = FastCheck.option(FastCheck.uint8Array({ maxLength: 40 }), { nil: null })
const record = FastCheck.record({
  timestampDelta: FastCheck.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  gap: FastCheck.integer({ min: 1, max: 300 }),
  key: bytes,
  value: bytes,
  headers: FastCheck.array(
    FastCheck.record({ key: FastCheck.constantFrom("trace-id", "é", "a", ""), value: bytes }),
    { maxLength: 3 },
  ),
})

const build = (arbs: ReadonlyArray<{ readonly gap: number } & Omit<Rec, "offsetDelta">>): ReadonlyArray<Rec> => {
  let delta = -1
  return arbs.map(({ gap, ...r }) => {
    delta += gap
    return { ...r, offsetDelta: delta }
  })
}

const header = (records: ReadonlyArray<Rec>, body: Buffer): BatchHeader => ({
  baseOffset: 1000n,
  lastOffsetDelta: records.length === 0 ? 0 : records[records.length - 1]!.offsetDelta,
  producerId: -1n,
  inTransaction: false,
  isControlBatch: false,
  logAppendTime: false,
  firstTimestamp: 1_700_000_000_000,
  maxTimestamp: 1_700_000_000_000,
  recordCount: records.length,
  body,
})

describe("decodeRecordsInto", () => {
  it("decodes what an independent encoder wrote, field by field", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.array(record, { minLength: 1, maxLength: 20 }), (arbs) => {
        const records = build(arbs)
        const out: Array<ConsumerRecord.ConsumerRecord> = []
        decodeRecordsInto(header(records, encodeRecords(records)), "t", 3, 0n, out)
        expect(out.map((r) => ({
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : Array.from(r.key),
          value: r.value === null ? null : Array.from(r.value),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Array.from(h.value) })),
        }))).toEqual(records.map((r) => ({
          offset: 1000n + BigInt(r.offsetDelta),
          timestamp: 1_700_000_000_000 + r.timestampDelta,
          key: r.key === null ? null : Array.from(r.key),
          value: r.value === null ? null : Array.from(r.value),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Array.from(h.value) })),
        })))
      }),
    )
  })

  it("throws nothing but CorruptBatch for mutated records", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(record, { minLength: 1, maxLength: 10 }),
        FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (arbs, mutations) => {
          const records = build(arbs)
          const body = encodeRecords(records)
          for (const [at, byte] of mutations) body[at % body.length] = byte
          const out: Array<ConsumerRecord.ConsumerRecord> = []
          try {
            decodeRecordsInto(header(records, body), "t", 0, 0n, out)
            expect(out.length).toBeLessThanOrEqual(records.length)
          } catch (e) {
            expect(e).toBeInstanceOf(CorruptBatch)
            expect(out).toEqual([])
          }
        },
      ),
    )
  })
})
