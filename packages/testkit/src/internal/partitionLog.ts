/**
 * One partition's log: record batches in offset order, the log start offset and the high
 * watermark. Plain synchronous code over arrays; the model wraps it in Effects once per request,
 * never once per record.
 */
import type { ConsumerRecord } from "@kafka-effect/core"

type Record = ConsumerRecord.ConsumerRecord

/** RecordBatch v2 attribute bits. */
export const ATTR_COMPRESSION_MASK = 0x07
export const ATTR_LOG_APPEND_TIME = 0x08
export const ATTR_TRANSACTIONAL = 0x10
export const ATTR_CONTROL = 0x20

/** A v2 batch header costs 61 bytes on the wire; used to size batches that have no raw bytes. */
const BATCH_OVERHEAD = 61

export interface BatchMeta {
  readonly attributes: number
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
  readonly raw: Uint8Array | undefined
  /**
   * Reads the records of `raw` again. When given (and the batch keeps its producer's timestamps),
   * the log keeps only the bytes and decodes records when something asks for them, so that a log
   * filled over the wire holds bytes, not one object per record.
   */
  readonly decodeRaw?: ((raw: Uint8Array) => ReadonlyArray<NewRecord>) | undefined
}

export class Batch {
  /** The last offset as produced; compaction keeps it, truncation lowers it. */
  lastOffset: bigint
  /** The bytes as produced, while the batch is intact (dropped when compaction or truncation edits it). */
  raw: Uint8Array | undefined
  /** Offsets baseOffset..lastOffset all hold a record (true until compaction or truncation edits the batch). */
  contiguous = true
  private size = -1
  private stored: Array<Record> | undefined
  private readonly decodeRaw: ((raw: Uint8Array) => ReadonlyArray<NewRecord>) | undefined

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly baseOffset: bigint,
    records: Array<Record> | { readonly count: number; readonly decode: (raw: Uint8Array) => ReadonlyArray<NewRecord> },
    readonly attributes: number,
    readonly producerId: bigint,
    readonly producerEpoch: number,
    readonly baseSequence: number,
    readonly partitionLeaderEpoch: number,
    readonly baseTimestamp: number,
    readonly maxTimestamp: number,
    raw: Uint8Array | undefined,
  ) {
    if (Array.isArray(records)) {
      this.stored = records
      this.decodeRaw = undefined
      this.lastOffset = baseOffset + BigInt(records.length - 1)
    } else {
      this.stored = undefined
      this.decodeRaw = records.decode
      this.lastOffset = baseOffset + BigInt(records.count - 1)
    }
    this.raw = raw
  }

  /** The records still in the log, decoded from the raw bytes on first use when the log kept only those. */
  get records(): Array<Record> {
    if (this.stored === undefined) {
      const decoded = this.decodeRaw!(this.raw!)
      const out: Array<Record> = new Array(decoded.length)
      for (let i = 0; i < decoded.length; i++) {
        const r = decoded[i]
        out[i] = {
          topic: this.topic,
          partition: this.partition,
          offset: this.baseOffset + BigInt(i),
          timestamp: r.timestamp,
          key: r.key,
          value: r.value,
          headers: r.headers,
        }
      }
      this.stored = out
    }
    return this.stored
  }

  /** Bytes this batch costs in a fetch answer: the raw bytes when kept, else records + header. */
  get sizeBytes(): number {
    if (this.raw !== undefined) return this.raw.length
    if (this.size < 0) {
      let n = BATCH_OVERHEAD
      for (const r of this.records) n += recordSize(r)
      this.size = n
    }
    return this.size
  }

  replaceRecords(records: Array<Record>): void {
    this.stored = records
    this.raw = undefined
    this.contiguous = false
    this.size = -1
  }
}

const textEncoder = new TextEncoder()

/** Bytes of key + value + headers, the measure the fetch limits use. */
export const recordSize = (r: Record): number => {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0)
  const headers = r.headers
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]
    n += h.key.length + (h.value?.length ?? 0)
  }
  return n
}

export const encodeText = (s: string): Uint8Array => textEncoder.encode(s)

/** What a read of the log returns for one partition. */
export interface ReadResult {
  /** The records read ("record" granularity only: whole batches carry their own). */
  readonly records: Array<Record>
  /** Records at offsets >= the requested one that the answer carries. */
  readonly count: number
  readonly batches: Array<Batch>
  readonly bytes: number
  /** Set when the read reached the end of the log past offsets that hold no record. */
  readonly nextOffset: bigint | undefined
}

export interface ReadLimits {
  readonly partitionMaxBytes: number
  /** What is left of the response's byte limit. */
  readonly responseRemaining: number
  /** True while no partition of this response has returned data: the first record/batch goes out whatever its size. */
  readonly responseEmpty: boolean
  readonly granularity: "record" | "batch"
}

export interface NewRecord {
  readonly key: Uint8Array | null
  readonly value: Uint8Array | null
  readonly headers: ReadonlyArray<ConsumerRecord.RecordHeader>
  readonly timestamp: number
}

const keyString = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i])
  return s
}

export class PartitionLog {
  logStartOffset = 0n
  highWatermark = 0n
  leaderEpoch = 0
  readonly batches: Array<Batch> = []

  constructor(
    readonly topic: string,
    readonly partition: number,
    public leader: number,
  ) {}

  /** Appends one batch at the high watermark; returns its base offset. */
  append(records: ReadonlyArray<NewRecord>, meta: BatchMeta, now: number): bigint {
    const baseOffset = this.highWatermark
    if (records.length === 0) return baseOffset
    const logAppendTime = (meta.attributes & ATTR_LOG_APPEND_TIME) !== 0
    let maxTimestamp = Number.NEGATIVE_INFINITY
    const firstTimestamp = logAppendTime ? now : records[0].timestamp
    // Bytes only: the records are decoded again from them when asked for (timestamps as produced).
    const bytesOnly = meta.raw !== undefined && meta.decodeRaw !== undefined && !logAppendTime
    let stored: Array<Record> | undefined
    if (bytesOnly) {
      for (let i = 0; i < records.length; i++) if (records[i].timestamp > maxTimestamp) maxTimestamp = records[i].timestamp
    } else {
      stored = new Array(records.length)
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        const timestamp = logAppendTime ? now : r.timestamp
        if (timestamp > maxTimestamp) maxTimestamp = timestamp
        stored[i] = {
          topic: this.topic,
          partition: this.partition,
          offset: baseOffset + BigInt(i),
          timestamp,
          key: r.key,
          value: r.value,
          headers: r.headers,
        }
      }
    }
    this.batches.push(
      new Batch(
        this.topic,
        this.partition,
        baseOffset,
        stored ?? { count: records.length, decode: meta.decodeRaw! },
        meta.attributes,
        meta.producerId,
        meta.producerEpoch,
        meta.baseSequence,
        this.leaderEpoch,
        firstTimestamp,
        maxTimestamp,
        meta.raw,
      ),
    )
    this.highWatermark = baseOffset + BigInt(records.length)
    return baseOffset
  }

  /** Index of the first batch whose last offset is >= `offset` (batches.length when none). */
  firstBatchIndex(offset: bigint): number {
    let lo = 0
    let hi = this.batches.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.batches[mid].lastOffset < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Reads from `offset`, which the caller checked lies in [logStartOffset, highWatermark]. */
  read(offset: bigint, limits: ReadLimits): ReadResult {
    const records: Array<Record> = []
    const batches: Array<Batch> = []
    let bytes = 0
    let count = 0
    let last = -1n
    let reachedEnd = true
    const partitionMax = limits.partitionMaxBytes
    const fits = (size: number): boolean => {
      // The first record (or batch) of a partition may exceed the partition limit; the response
      // limit is soft only for the first partition that returns data (Kafka's partial-batch rule).
      if (count === 0) return limits.responseEmpty || size <= limits.responseRemaining
      return bytes + size <= partitionMax && bytes + size <= limits.responseRemaining
    }
    const from = this.firstBatchIndex(offset)
    outer: for (let bi = from; bi < this.batches.length; bi++) {
      const batch = this.batches[bi]
      if (limits.granularity === "batch" && batch.contiguous) {
        // Every offset of the batch holds a record: counted without looking at the records.
        const first = batch.baseOffset < offset ? offset : batch.baseOffset
        if (first > batch.lastOffset) continue
        const size = batch.sizeBytes
        if (!fits(size)) {
          reachedEnd = false
          break
        }
        bytes += size
        batches.push(batch)
        count += Number(batch.lastOffset - first) + 1
        last = batch.lastOffset
        continue
      }
      const rs = batch.records
      let ri = 0
      if (bi === from && batch.baseOffset < offset) {
        while (ri < rs.length && rs[ri].offset < offset) ri++
      }
      if (limits.granularity === "batch") {
        if (ri >= rs.length) continue
        const size = batch.sizeBytes
        if (!fits(size)) {
          reachedEnd = false
          break
        }
        bytes += size
        batches.push(batch)
        count += rs.length - ri
        last = rs[rs.length - 1].offset
        continue
      }
      let used = false
      for (; ri < rs.length; ri++) {
        const r = rs[ri]
        const size = recordSize(r)
        if (!fits(size)) {
          reachedEnd = false
          if (used) batches.push(batch)
          break outer
        }
        bytes += size
        records.push(r)
        count++
        last = r.offset
        used = true
      }
      if (used) batches.push(batch)
    }
    const next = count > 0 ? last + 1n : offset
    const nextOffset = reachedEnd && next < this.highWatermark ? this.highWatermark : undefined
    return { records, count, batches, bytes, nextOffset }
  }

  /** Moves the log start up to `offset` (<= highWatermark); whole batches below it go. */
  deleteBefore(offset: bigint): void {
    if (offset <= this.logStartOffset) return
    this.logStartOffset = offset
    let drop = 0
    while (drop < this.batches.length && this.batches[drop].lastOffset < offset) drop++
    if (drop > 0) this.batches.splice(0, drop)
  }

  /** Keeps the latest record per key; null-keyed records stay; empty batches go. */
  compact(): void {
    const latest = new Map<string, bigint>()
    for (const batch of this.batches) {
      for (const r of batch.records) {
        if (r.key !== null && r.offset >= this.logStartOffset) latest.set(keyString(r.key), r.offset)
      }
    }
    let write = 0
    for (let bi = 0; bi < this.batches.length; bi++) {
      const batch = this.batches[bi]
      const kept = batch.records.filter(
        (r) => r.offset >= this.logStartOffset && (r.key === null || latest.get(keyString(r.key)) === r.offset),
      )
      if (kept.length === 0) continue
      if (kept.length !== batch.records.length) batch.replaceRecords(kept)
      this.batches[write++] = batch
    }
    this.batches.length = write
  }

  /** Moves the high watermark down to `offset` (<= highWatermark), dropping what lies above. */
  truncate(offset: bigint): void {
    while (this.batches.length > 0 && this.batches[this.batches.length - 1].baseOffset >= offset) this.batches.pop()
    const last = this.batches[this.batches.length - 1]
    if (last !== undefined && last.lastOffset >= offset) {
      const kept = last.records.filter((r) => r.offset < offset)
      last.lastOffset = offset - 1n
      if (kept.length === 0) this.batches.pop()
      else last.replaceRecords(kept)
    }
    this.highWatermark = offset
    if (this.logStartOffset > offset) this.logStartOffset = offset
  }

  /** Offsets in [logStartOffset, highWatermark) that hold a record. */
  offsets(): Array<bigint> {
    const out: Array<bigint> = []
    for (const batch of this.batches) {
      for (const r of batch.records) if (r.offset >= this.logStartOffset) out.push(r.offset)
    }
    return out
  }

  /** The first offset whose record timestamp is >= `timestamp` (ListOffsets by time), if any. */
  offsetForTimestamp(timestamp: number): { readonly offset: bigint; readonly timestamp: number } | undefined {
    for (const batch of this.batches) {
      if (batch.maxTimestamp < timestamp) continue
      for (const r of batch.records) {
        if (r.offset >= this.logStartOffset && r.timestamp >= timestamp) return { offset: r.offset, timestamp: r.timestamp }
      }
    }
    return undefined
  }
}
