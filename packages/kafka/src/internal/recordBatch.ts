/**
 * A lean RecordBatch (magic 2) decoder: batch headers are read eagerly (cheap), records only for
 * batches that will be delivered, straight into `ConsumerRecord`s (keys, values and header values are
 * views into the response buffer, as with kafkajs). Compressed batches are inflated with kafkajs's
 * codecs (gzip built in; snappy/lz4/zstd when registered in kafkajs's `CompressionCodecs`).
 */
import type { ConsumerRecord } from "@kafka-effect/core"
import { decompress } from "./kafkajs.js"

export interface BatchHeader {
  readonly baseOffset: bigint
  readonly lastOffsetDelta: number
  readonly producerId: bigint
  readonly inTransaction: boolean
  readonly isControlBatch: boolean
  readonly logAppendTime: boolean
  readonly firstTimestamp: number
  readonly maxTimestamp: number
  readonly recordCount: number
  /** The records section, inflated when the batch was compressed. */
  readonly body: Buffer
}

/** Bytes before the records: baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4) attributes(2)
 * lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) baseSequence(4) count(4). */
const HEADER = 61

const int64 = (b: Buffer, p: number): number => b.readInt32BE(p) * 4294967296 + b.readUInt32BE(p + 4)

export class UnsupportedRecordFormat extends Error {
  override readonly name = "UnsupportedRecordFormat"
}

/**
 * The batches of one partition's record set. A batch cut short by the size limit ends the list
 * (the next fetch starts there). Legacy message sets (magic 0/1) are reported, not decoded.
 */
export const decodeRecordSet = async (
  bytes: Buffer,
): Promise<{ readonly batches: ReadonlyArray<BatchHeader>; readonly legacyFormat: boolean }> => {
  const batches: Array<BatchHeader> = []
  const length = bytes.length
  let pos = 0
  while (pos + HEADER <= length) {
    const batchLength = bytes.readInt32BE(pos + 8)
    const end = pos + 12 + batchLength
    if (end > length) break
    const magic = bytes.readInt8(pos + 16)
    if (magic !== 2) return { batches, legacyFormat: true }
    const attributes = bytes.readInt16BE(pos + 21)
    const codec = attributes & 0x07
    const raw = bytes.subarray(pos + HEADER, end)
    batches.push({
      baseOffset: bytes.readBigInt64BE(pos),
      lastOffsetDelta: bytes.readInt32BE(pos + 23),
      firstTimestamp: int64(bytes, pos + 27),
      maxTimestamp: int64(bytes, pos + 35),
      producerId: bytes.readBigInt64BE(pos + 43),
      recordCount: bytes.readInt32BE(pos + 57),
      logAppendTime: (attributes & 0x08) !== 0,
      inTransaction: (attributes & 0x10) !== 0,
      isControlBatch: (attributes & 0x20) !== 0,
      body: codec === 0 ? raw : await decompress(codec, raw),
    })
    pos = end
  }
  return { batches, legacyFormat: false }
}

/** A cursor over one batch body. Varints are zigzag-encoded (Kafka's signed varint). */
class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
  ) {}

  varint(): number {
    const buf = this.buf
    let value = 0
    let shift = 0
    let byte: number
    do {
      if (this.pos >= buf.length) throw new RangeError("varint runs past the end of the batch")
      byte = buf[this.pos++]!
      value |= (byte & 0x7f) << shift
      shift += 7
    } while (byte & 0x80 && shift < 35)
    return (value >>> 1) ^ -(value & 1)
  }

  /** A zigzag varlong as a Number (exact up to 2^53, far beyond any timestamp delta). */
  varlong(): number {
    const buf = this.buf
    let value = 0
    let scale = 1
    let byte: number
    do {
      if (this.pos >= buf.length) throw new RangeError("varlong runs past the end of the batch")
      byte = buf[this.pos++]!
      value += (byte & 0x7f) * scale
      scale *= 128
    } while (byte & 0x80 && scale <= 2 ** 63)
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2
  }

  bytes(): Buffer | null {
    const n = this.varint()
    if (n < 0) return null
    const start = this.pos
    this.pos += n
    if (this.pos > this.buf.length) throw new RangeError("field runs past the end of the batch")
    return this.buf.subarray(start, this.pos)
  }
}

const NO_HEADERS: ReadonlyArray<ConsumerRecord.RecordHeader> = []
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Appends the batch's records at offsets >= `fetchOffset` to `out`. */
export const decodeRecordsInto = (
  batch: BatchHeader,
  topic: string,
  partition: number,
  fetchOffset: bigint,
  out: Array<ConsumerRecord.ConsumerRecord>,
): void => {
  const c = new Cursor(batch.body, 0)
  const minDelta = fetchOffset > batch.baseOffset ? Number(fetchOffset - batch.baseOffset) : 0
  // One bigint per record: from a Number sum while the offsets stay below 2^53 (always, in practice).
  const base = batch.baseOffset
  const baseNumber = base + BigInt(batch.lastOffsetDelta) <= MAX_SAFE ? Number(base) : -1
  for (let i = 0; i < batch.recordCount; i++) {
    const length = c.varint()
    const end = c.pos + length
    c.pos++ // attributes (unused)
    const timestampDelta = c.varlong()
    const offsetDelta = c.varint()
    if (offsetDelta < minDelta) {
      c.pos = end
      continue
    }
    const key = c.bytes()
    const value = c.bytes()
    const headerCount = c.varint()
    let headers = NO_HEADERS
    if (headerCount > 0) {
      const list: Array<ConsumerRecord.RecordHeader> = []
      for (let h = 0; h < headerCount; h++) {
        const k = c.bytes()
        list.push({ key: k === null ? "" : k.toString("utf8"), value: c.bytes() })
      }
      headers = list
    }
    c.pos = end
    out.push({
      topic,
      partition,
      offset: baseNumber >= 0 ? BigInt(baseNumber + offsetDelta) : base + BigInt(offsetDelta),
      timestamp: batch.logAppendTime ? batch.maxTimestamp : batch.firstTimestamp + timestampDelta,
      key,
      value,
      headers,
    })
  }
}

/** The control type of a control batch's marker (0 abort, 1 commit), or undefined. */
export const controlType = (batch: BatchHeader): number | undefined => {
  if (batch.recordCount < 1) return undefined
  const c = new Cursor(batch.body, 0)
  c.varint() // length
  c.pos++ // attributes
  c.varlong() // timestamp delta
  c.varint() // offset delta
  const key = c.bytes()
  return key !== null && key.length >= 4 ? key.readInt16BE(2) : undefined
}
