/**
 * A lean RecordBatch (magic 2) decoder that trusts nothing it reads. Batch headers are read eagerly
 * (cheap) and checked (lengths, offsets, counts, order); the CRC-32C of every batch that can be
 * delivered is verified (Java's `check.crcs`); records are decoded only for batches that will be
 * delivered, straight into `ConsumerRecord`s whose keys, values and header values are plain
 * `Uint8Array` views into the response buffer (not `Buffer`s). Compressed batches are inflated: gzip with Node's zlib (at most 256 MiB a
 * batch), snappy/lz4/zstd with kafkajs's codecs when registered in its `CompressionCodecs`.
 *
 * A batch that fails a check is a `CorruptBatch` at its base offset: the batches before it are
 * kept (they are delivered; the next fetch starts at the corrupt one and reports it).
 */
import type { ConsumerRecord } from "@kafka-effect/core"
import { promisify } from "node:util"
import * as zlib from "node:zlib"
import { crc32c } from "./crc.js"
import { decompress } from "./kafkajs.js"

const unzip = promisify(zlib.unzip)
/** gzip here (as kafkajs's codec does, with an output limit); other codecs through kafkajs's registry. */
const inflate = (codec: number, raw: Buffer, maxOutputLength: number): Promise<Buffer> =>
  codec === 1 ? unzip(raw, { maxOutputLength }) : decompress(codec, raw)

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
  /** The records section, inflated when the batch was compressed (left as is for batches not delivered). */
  readonly body: Buffer
}

/** A batch that cannot be read as it claims: a CRC mismatch, a length or offset that cannot be. */
export class CorruptBatch extends Error {
  override readonly name = "CorruptBatch"
  constructor(
    readonly offset: bigint,
    readonly reason: string,
  ) {
    super(`record batch at offset ${offset}: ${reason}`)
  }
}

export interface RecordSet {
  readonly batches: ReadonlyArray<BatchHeader>
  /** The record set used the legacy message format (magic < 2), which this decoder does not read. */
  readonly legacyFormat: boolean
  /**
   * The first batch that failed a check (`batches` holds the ones before it), or, when bytes came
   * but not one whole batch, that (a broker that implements KIP-74 never answers so).
   */
  readonly corrupt: CorruptBatch | undefined
}

export interface DecodeOptions {
  /** Batches that end below it are not delivered: not inflated, not CRC-checked. Default: all are. */
  readonly fetchOffset?: bigint
  /** Verify each delivered batch's CRC-32C. Default true. */
  readonly checkCrcs?: boolean
  /** A gzip batch that inflates beyond this is corrupt (a decompression bomb), not allocated. Default 256 MiB. */
  readonly maxInflatedBytes?: number
}

/** Bytes before the records: baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4) attributes(2)
 * lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) baseSequence(4) count(4). */
const HEADER = 61
/** baseOffset(8) + length(4): the part of the header outside the batch length. */
const LOG_OVERHEAD = 12
const CRC_AT = 17
/** The CRC covers the batch from its attributes to its end. */
const CRC_FROM = 21
/** The smallest record: length, attributes, timestamp delta, offset delta, key, value, header count (1 byte each). */
const MIN_RECORD = 7

const int64 = (b: Buffer, p: number): number => b.readInt32BE(p) * 4294967296 + b.readUInt32BE(p + 4)

export class UnsupportedRecordFormat extends Error {
  override readonly name = "UnsupportedRecordFormat"
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`

/**
 * The batches of one partition's record set. A batch cut short by the size limit ends the list
 * (the next fetch starts there). Legacy message sets (magic 0/1) are reported, not decoded.
 */
export const decodeRecordSet = async (bytes: Buffer, options: DecodeOptions = {}): Promise<RecordSet> => {
  const fetchOffset = options.fetchOffset ?? -1n
  const checkCrcs = options.checkCrcs ?? true
  const maxInflatedBytes = options.maxInflatedBytes ?? 256 * 1024 * 1024
  const batches: Array<BatchHeader> = []
  const length = bytes.length
  let pos = 0
  let previousLast = -1n
  const result = (corrupt: CorruptBatch | undefined, legacyFormat = false): RecordSet => ({ batches, legacyFormat, corrupt })
  while (pos + LOG_OVERHEAD <= length) {
    const baseOffset = bytes.readBigInt64BE(pos)
    const batchLength = bytes.readInt32BE(pos + 8)
    const end = pos + LOG_OVERHEAD + batchLength
    if (batchLength >= 0 && end > length) break
    // Legacy messages (magic 0/1) keep their magic at the same place, after a shorter header.
    if (batchLength >= 5 && bytes.readInt8(pos + 16) !== 2) return result(undefined, true)
    if (batchLength < HEADER - LOG_OVERHEAD) {
      return result(new CorruptBatch(baseOffset, `batch length ${batchLength} is below the ${HEADER - LOG_OVERHEAD}-byte header`))
    }
    const lastOffsetDelta = bytes.readInt32BE(pos + 23)
    const recordCount = bytes.readInt32BE(pos + 57)
    const attributes = bytes.readInt16BE(pos + 21)
    const codec = attributes & 0x07
    const lastOffset = baseOffset + BigInt(lastOffsetDelta)
    const invalid =
      baseOffset < 0n
        ? `negative base offset ${baseOffset}`
        : lastOffsetDelta < 0
          ? `negative last offset delta ${lastOffsetDelta}`
          : baseOffset <= previousLast
            ? `base offset ${baseOffset} is not after the previous batch's last offset ${previousLast}`
            : recordCount < 0 || recordCount - 1 > lastOffsetDelta
              ? `record count ${recordCount} does not fit offsets ${baseOffset}..${lastOffset}`
              : codec > 4
                ? `unknown compression codec ${codec}`
                : undefined
    if (invalid !== undefined) return result(new CorruptBatch(baseOffset, invalid))
    const isControlBatch = (attributes & 0x20) !== 0
    const delivered = lastOffset >= fetchOffset
    // Control batches are read below the fetch offset too (abort markers): check those as well.
    if (checkCrcs && (delivered || isControlBatch)) {
      const stored = bytes.readUInt32BE(pos + CRC_AT)
      const computed = crc32c(bytes, pos + CRC_FROM, end)
      if (stored !== computed) {
        return result(new CorruptBatch(baseOffset, `CRC-32C mismatch (stored ${hex(stored)}, computed ${hex(computed)})`))
      }
    }
    const raw = bytes.subarray(pos + HEADER, end)
    let body = raw
    if (codec !== 0 && delivered && !isControlBatch) {
      try {
        body = await inflate(codec, raw, maxInflatedBytes)
      } catch (e) {
        // A codec that is not registered is the application's to fix, not a corrupt batch.
        if (e instanceof Error && e.name === "KafkaJSNotImplemented") throw e
        return result(new CorruptBatch(baseOffset, `cannot inflate (codec ${codec}): ${e instanceof Error ? e.message : String(e)}`))
      }
    }
    if (delivered && recordCount > 0 && body.length < recordCount * MIN_RECORD) {
      return result(new CorruptBatch(baseOffset, `${body.length} bytes cannot hold ${recordCount} records`))
    }
    batches.push({
      baseOffset,
      lastOffsetDelta,
      firstTimestamp: int64(bytes, pos + 27),
      maxTimestamp: int64(bytes, pos + 35),
      producerId: bytes.readBigInt64BE(pos + 43),
      recordCount,
      logAppendTime: (attributes & 0x08) !== 0,
      inTransaction: (attributes & 0x10) !== 0,
      isControlBatch,
      body,
    })
    previousLast = lastOffset
    pos = end
  }
  if (batches.length === 0 && length > 0) {
    const at = length >= 8 ? bytes.readBigInt64BE(0) : fetchOffset
    return result(new CorruptBatch(at, `${length} bytes hold no complete record batch`))
  }
  return result(undefined)
}

const fail = (reason: string): never => {
  throw new RangeError(reason)
}

const NO_HEADERS: ReadonlyArray<ConsumerRecord.RecordHeader> = Object.freeze([])
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

// The record reader's state as module-level locals (one batch at a time, synchronously): plain
// functions over integer positions instead of a cursor object per batch.
const EMPTY: Buffer = Buffer.alloc(0)
let rb: Buffer = EMPTY
/** `rb`'s ArrayBuffer and where `rb` starts in it (read once a batch: they are getters). */
let rbBuffer: ArrayBufferLike = EMPTY.buffer
let rbOffset = 0
let rp = 0
let rlimit = 0
/** The byte count of the last field `readBytes` read (0 for null): a view's `length` is a getter. */
let readLength = 0

const readFrom = (body: Buffer): void => {
  rb = body
  rbBuffer = body.buffer
  rbOffset = body.byteOffset
  rp = 0
  rlimit = body.length
}

/** A zigzag varint at `rp` (Kafka's signed varint), at most 5 bytes; one-byte values take the short path. */
const readVarint = (): number => {
  if (rp >= rlimit) return fail("varint runs past the end of its record")
  let byte = rb[rp++]!
  if ((byte & 0x80) === 0) return (byte >>> 1) ^ -(byte & 1)
  let value = byte & 0x7f
  for (let shift = 7; ; shift += 7) {
    if (shift > 28) return fail("varint longer than 5 bytes")
    if (rp >= rlimit) return fail("varint runs past the end of its record")
    byte = rb[rp++]!
    value |= (byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return (value >>> 1) ^ -(value & 1)
  }
}

/** A zigzag varlong as a Number (exact up to 2^53, far beyond any timestamp delta), at most 10 bytes. */
const readVarlong = (): number => {
  let value = 0
  let scale = 1
  for (let i = 0; ; i++) {
    if (rp >= rlimit) return fail("varlong runs past the end of its record")
    if (i === 10) return fail("varlong longer than 10 bytes")
    const byte = rb[rp++]!
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) break
    scale *= 128
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

/** The length of a nullable byte field (-1 for null), its bytes checked to lie within the record. */
const readFieldLength = (what: string): number => {
  const n = readVarint()
  if (n < -1) return fail(`${what} length ${n}`)
  if (n > rlimit - rp) return fail(`${what} of ${n} bytes runs past the end of its record`)
  return n
}

/**
 * A nullable byte field as a plain `Uint8Array` view of the response (not a `Buffer`: a Buffer
 * view costs about twice as much to make, and a record makes two or more).
 */
const readBytes = (what: string): Uint8Array | null => {
  const n = readFieldLength(what)
  if (n < 0) {
    readLength = 0
    return null
  }
  readLength = n
  const view = new Uint8Array(rbBuffer, rbOffset + rp, n)
  rp += n
  return view
}

/**
 * A non-null header key as utf8; the same string as `previous` when its bytes equal those of
 * `previous` (ASCII keys: records of a batch usually repeat their header keys), so no new string.
 */
const readHeaderKey = (previous: string | undefined): string => {
  const n = readFieldLength("header key")
  if (n < 0) return fail("header key is null")
  const start = rp
  rp += n
  if (previous !== undefined && previous.length === n) {
    let same = true
    for (let j = 0; j < n; j++) {
      const byte = rb[start + j]!
      // Only ASCII bytes: a byte from 0x80 up is part of a multi-byte (or invalid) sequence.
      if (byte >= 0x80 || previous.charCodeAt(j) !== byte) {
        same = false
        break
      }
    }
    if (same) return previous
  }
  return rb.toString("utf8", start, rp)
}

/**
 * Appends the batch's records at offsets >= `fetchOffset` to `out` and returns their key and value
 * bytes. A record that does not parse throws a `CorruptBatch` (the records of this batch already
 * appended are taken back).
 */
export const decodeRecordsInto = (
  batch: BatchHeader,
  topic: string,
  partition: number,
  fetchOffset: bigint,
  out: Array<ConsumerRecord.ConsumerRecord>,
): number => {
  const body = batch.body
  readFrom(body)
  const before = out.length
  const bodyEnd = body.length
  const minDelta = fetchOffset > batch.baseOffset ? Number(fetchOffset - batch.baseOffset) : 0
  // One bigint per record: from a Number sum while the offsets stay below 2^53 (always, in practice).
  const base = batch.baseOffset
  const baseNumber = base + BigInt(batch.lastOffsetDelta) <= MAX_SAFE ? Number(base) : -1
  const lastDelta = batch.lastOffsetDelta
  const logAppendTime = batch.logAppendTime
  const maxTimestamp = batch.maxTimestamp
  const firstTimestamp = batch.firstTimestamp
  const recordCount = batch.recordCount
  let previousHeaders: ReadonlyArray<ConsumerRecord.RecordHeader> = NO_HEADERS
  let previousDelta = -1
  let bytes = 0
  try {
    for (let i = 0; i < recordCount; i++) {
      rlimit = bodyEnd
      const length = readVarint()
      const end = rp + length
      if (length < MIN_RECORD - 1 || end > bodyEnd) fail(`record ${i} has length ${length} with ${bodyEnd - rp} bytes left`)
      rlimit = end
      rp++ // attributes (unused)
      const timestampDelta = readVarlong()
      const offsetDelta = readVarint()
      if (offsetDelta <= previousDelta || offsetDelta > lastDelta) {
        fail(`record ${i} has offset delta ${offsetDelta} (previous ${previousDelta}, last ${lastDelta})`)
      }
      previousDelta = offsetDelta
      if (offsetDelta < minDelta) {
        rp = end
        continue
      }
      const key = readBytes("key")
      bytes += readLength
      const value = readBytes("value")
      bytes += readLength
      const headerCount = readVarint()
      let headers = NO_HEADERS
      if (headerCount !== 0) {
        if (headerCount < 0 || headerCount * 2 > end - rp) fail(`record ${i} has header count ${headerCount}`)
        const list: Array<ConsumerRecord.RecordHeader> = new Array(headerCount)
        for (let h = 0; h < headerCount; h++) {
          const headerKey = readHeaderKey(previousHeaders[h]?.key)
          list[h] = { key: headerKey, value: readBytes("header value") }
        }
        headers = list
        previousHeaders = list
      }
      if (rp !== end) fail(`record ${i} has ${end - rp} bytes after its fields`)
      out.push({
        topic,
        partition,
        offset: baseNumber >= 0 ? BigInt(baseNumber + offsetDelta) : base + BigInt(offsetDelta),
        timestamp: logAppendTime ? maxTimestamp : firstTimestamp + timestampDelta,
        key,
        value,
        headers,
      })
    }
    if (rp !== bodyEnd) fail(`${bodyEnd - rp} bytes after the batch's ${recordCount} records`)
    return bytes
  } catch (e) {
    out.length = before
    throw new CorruptBatch(batch.baseOffset, e instanceof Error ? e.message : String(e))
  } finally {
    // Not to keep the response alive through the reader's state.
    readFrom(EMPTY)
  }
}

/** The control type of a control batch's marker (0 abort, 1 commit), or undefined. */
export const controlType = (batch: BatchHeader): number | undefined => {
  if (batch.recordCount < 1) return undefined
  readFrom(batch.body)
  try {
    readVarint() // length
    rp++ // attributes
    readVarlong() // timestamp delta
    readVarint() // offset delta
    const key = readBytes("key")
    return key !== null && key.length >= 4 ? ((key[2]! << 24) | (key[3]! << 16)) >> 16 : undefined
  } catch {
    return undefined
  } finally {
    readFrom(EMPTY)
  }
}
