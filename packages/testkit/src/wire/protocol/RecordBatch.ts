/**
 * RecordBatch v2 (magic 2), the only record format this broker speaks (Produce v3+, Fetch v4+).
 *
 * A produced batch is kept as produced (compressed or not): the broker only rewrites its base
 * offset, which the CRC does not cover. Records are decoded once at produce time so that the model
 * knows keys, values and timestamps (for compaction and the in-memory ports).
 */
import { Malformed, Reader, Writer } from "./Codec.js"
import { type CompressionType, compress, decompress } from "./Compression.js"
import { crc32c } from "./Crc32c.js"

/** Bytes before the records: baseOffset .. recordCount. */
export const BATCH_HEADER_SIZE = 61
/** baseOffset (8) + batchLength (4): the part of the header outside `batchLength`. */
export const BATCH_LOG_OVERHEAD = 12
/** Where the CRC-covered part starts (attributes). */
const CRC_START = 21
const CRC_AT = 17
const MAGIC_AT = 16

export const Attributes = {
  compressionMask: 0x07,
  timestampLogAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
} as const

export interface BatchHeader {
  readonly baseOffset: bigint
  readonly batchLength: number
  readonly partitionLeaderEpoch: number
  readonly magic: number
  readonly crc: number
  readonly attributes: number
  readonly lastOffsetDelta: number
  readonly baseTimestamp: bigint
  readonly maxTimestamp: bigint
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly recordCount: number
}

export interface RecordHeader {
  readonly key: string
  readonly value: Uint8Array | null
}

/** A record as a batch holds it, with its offset and timestamp made absolute. */
export interface BatchRecord {
  readonly offset: bigint
  readonly timestamp: number
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<RecordHeader>
}

export const compressionOf = (attributes: number): CompressionType => {
  const c = attributes & Attributes.compressionMask
  switch (c) {
    case 0:
      return "none"
    case 1:
      return "gzip"
    case 2:
      return "snappy"
    case 3:
      return "lz4"
    case 4:
      return "zstd"
    default:
      throw new Malformed(`unknown compression ${c}`)
  }
}

const compressionCode: Record<CompressionType, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }

/**
 * Splits a `records` field into whole batches. A trailing partial batch (a broker may cut the last
 * one at the size limit) is dropped, as clients do.
 */
export const splitBatches = (records: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength)
  let at = 0
  while (at + BATCH_LOG_OVERHEAD <= records.byteLength) {
    const length = view.getInt32(at + 8)
    const end = at + BATCH_LOG_OVERHEAD + length
    if (length < 0 || end > records.byteLength) break
    out.push(records.subarray(at, end))
    at = end
  }
  return out
}

export const readHeader = (batch: Uint8Array): BatchHeader => {
  const r = new Reader(batch)
  const baseOffset = r.int64()
  const batchLength = r.int32()
  const partitionLeaderEpoch = r.int32()
  const magic = r.int8()
  if (magic !== 2) throw new Malformed(`record batch magic ${magic} (only magic 2 is supported)`)
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch,
    magic,
    crc: r.uint32(),
    attributes: r.int16(),
    lastOffsetDelta: r.int32(),
    baseTimestamp: r.int64(),
    maxTimestamp: r.int64(),
    producerId: r.int64(),
    producerEpoch: r.int16(),
    baseSequence: r.int32(),
    recordCount: r.int32(),
  }
}

export const magicOf = (batch: Uint8Array): number => (batch.byteLength > MAGIC_AT ? batch[MAGIC_AT] : -1)

/** True when the stored CRC matches CRC-32C of attributes..end. */
export const crcValid = (batch: Uint8Array): boolean => {
  if (batch.byteLength < BATCH_HEADER_SIZE) return false
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength)
  return view.getUint32(CRC_AT) === crc32c(batch.subarray(CRC_START))
}

/** A copy of `batch` with its base offset set (the CRC does not cover it). */
export const withBaseOffset = (batch: Uint8Array, baseOffset: bigint): Uint8Array => {
  const copy = batch.slice()
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setBigInt64(0, baseOffset)
  return copy
}

/** Rewrites `maxTimestamp` and sets LogAppendTime, recomputing the CRC (log.message.timestamp.type=LogAppendTime). */
export const withLogAppendTime = (batch: Uint8Array, appendTime: bigint): Uint8Array => {
  const copy = batch.slice()
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength)
  view.setInt16(CRC_START, view.getInt16(CRC_START) | Attributes.timestampLogAppendTime)
  view.setBigInt64(35, appendTime)
  view.setUint32(CRC_AT, crc32c(copy.subarray(CRC_START)))
  return copy
}

const readRecord = (r: Reader, baseOffset: bigint, baseTimestamp: number, logAppendTime: number | undefined): BatchRecord => {
  const length = r.varint()
  const end = r.offset + length
  r.int8() // record attributes: unused
  const timestampDelta = r.varlongNumber()
  const offsetDelta = r.varint()
  const keyLength = r.varint()
  const key = keyLength < 0 ? null : r.raw(keyLength)
  const valueLength = r.varint()
  const value = valueLength < 0 ? null : r.raw(valueLength)
  const headerCount = r.varint()
  const headers: Array<RecordHeader> = []
  for (let i = 0; i < headerCount; i++) {
    const hk = r.varint()
    const hkey = textDecoder.decode(r.raw(hk))
    const hv = r.varint()
    headers.push({ key: hkey, value: hv < 0 ? null : r.raw(hv) })
  }
  if (r.offset !== end) throw new Malformed(`record length ${length} does not match its fields`)
  return {
    offset: baseOffset + BigInt(offsetDelta),
    timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  }
}

/** The records of one batch, decompressed. Control batches yield no records. */
export const decodeRecords = (batch: Uint8Array): { readonly header: BatchHeader; readonly records: Array<BatchRecord> } => {
  const header = readHeader(batch)
  if ((header.attributes & Attributes.control) !== 0) return { header, records: [] }
  const body = batch.subarray(BATCH_HEADER_SIZE)
  const plain = decompress(compressionOf(header.attributes), body)
  const r = new Reader(plain)
  const baseTimestamp = Number(header.baseTimestamp)
  const logAppendTime =
    (header.attributes & Attributes.timestampLogAppendTime) !== 0 ? Number(header.maxTimestamp) : undefined
  const records = new Array<BatchRecord>(header.recordCount)
  for (let i = 0; i < header.recordCount; i++) records[i] = readRecord(r, header.baseOffset, baseTimestamp, logAppendTime)
  return { header, records }
}

const utf8 = new TextEncoder()
const textDecoder = new TextDecoder()

const writeRecord = (w: Writer, record: BatchRecord, baseOffset: bigint, baseTimestamp: number): void => {
  const body = new Writer(64 + (record.value?.byteLength ?? 0) + (record.key?.byteLength ?? 0))
  body.int8(0)
  body.varlongNumber(record.timestamp - baseTimestamp)
  body.varint(Number(record.offset - baseOffset))
  if (record.key === null) body.varint(-1)
  else body.varint(record.key.byteLength).raw(record.key)
  if (record.value === null) body.varint(-1)
  else body.varint(record.value.byteLength).raw(record.value)
  body.varint(record.headers.length)
  for (const h of record.headers) {
    const k = utf8.encode(h.key)
    body.varint(k.byteLength).raw(k)
    if (h.value === null) body.varint(-1)
    else body.varint(h.value.byteLength).raw(h.value)
  }
  w.varint(body.length).raw(body.subarray())
}

export interface EncodeBatchOptions {
  /** Defaults to the first record's offset; lower when compaction removed the batch's first records. */
  readonly baseOffset?: bigint
  /** Defaults to the last record's offset; higher when compaction removed the batch's last records. */
  readonly lastOffset?: bigint
  readonly compression?: CompressionType
  readonly partitionLeaderEpoch?: number
  readonly producerId?: bigint
  readonly producerEpoch?: number
  readonly baseSequence?: number
  readonly logAppendTime?: boolean
}

/**
 * Encodes records (offsets ascending, possibly with gaps after compaction) as one batch whose base
 * offset is the first record's offset.
 */
export const encodeBatch = (records: ReadonlyArray<BatchRecord>, options: EncodeBatchOptions = {}): Uint8Array => {
  if (records.length === 0) throw new Malformed("a batch needs at least one record")
  const baseOffset = options.baseOffset ?? records[0].offset
  const lastOffset = options.lastOffset ?? records[records.length - 1].offset
  let baseTimestamp = records[0].timestamp
  let maxTimestamp = records[0].timestamp
  for (const r of records) {
    if (r.timestamp < baseTimestamp) baseTimestamp = r.timestamp
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp
  }
  const body = new Writer(256)
  for (const r of records) writeRecord(body, r, baseOffset, baseTimestamp)
  const compression = options.compression ?? "none"
  const payload = compress(compression, body.subarray())
  const w = new Writer(BATCH_HEADER_SIZE + payload.byteLength)
  w.int64(baseOffset)
  const lengthAt = w.reserve(4)
  w.int32(options.partitionLeaderEpoch ?? 0)
  w.int8(2)
  const crcAt = w.reserve(4)
  let attributes = compressionCode[compression]
  if (options.logAppendTime === true) attributes |= Attributes.timestampLogAppendTime
  w.int16(attributes)
  w.int32(Number(lastOffset - baseOffset))
  w.int64(BigInt(baseTimestamp))
  w.int64(BigInt(maxTimestamp))
  w.int64(options.producerId ?? -1n)
  w.int16(options.producerEpoch ?? -1)
  w.int32(options.baseSequence ?? -1)
  w.int32(records.length)
  w.raw(payload)
  w.setInt32At(lengthAt, w.length - BATCH_LOG_OVERHEAD)
  const out = w.toBytes()
  new DataView(out.buffer).setUint32(crcAt, crc32c(out.subarray(CRC_START)))
  return out
}

/** The offset after the batch's last record. */
export const nextOffsetOf = (header: BatchHeader): bigint => header.baseOffset + BigInt(header.lastOffsetDelta) + 1n
