/**
 * Fetch response decoding without kafkajs's `parse` (which throws on the first errored partition and
 * drops every other partition's records), keeping batch-level facts (producer id, transactional and
 * control flags, last offset) that read_committed filtering and `nextOffset` need.
 *
 * Nothing read is trusted: every length and count is checked against the bytes that are there
 * before anything is allocated for it. A response whose structure breaks fails whole
 * (`MalformedResponse`, a `CorruptResponse` for the caller); a record batch that breaks fails its
 * partition only (`CorruptRecordBatch`). Partitions that were not asked for (or answered twice) are
 * skipped without decoding their records, and named.
 */
import { type ConsumerRecord, type Fetcher, KafkaError, TopicPartition } from "@kafka-effect/core"
import { type BatchHeader, CorruptBatch, controlType, decodeRecordSet, decodeRecordsInto } from "./recordBatch.js"

export interface AbortedTransaction {
  readonly producerId: bigint
  readonly firstOffset: bigint
}

export interface RawPartition {
  readonly topic: string
  readonly partition: number
  readonly errorCode: number
  readonly highWatermark: bigint
  readonly lastStableOffset: bigint
  readonly logStartOffset: bigint | undefined
  readonly abortedTransactions: ReadonlyArray<AbortedTransaction>
  readonly batches: ReadonlyArray<BatchHeader>
  /** The record set used the legacy message format (magic < 2), which this decoder does not read. */
  readonly legacyFormat: boolean
  /** The first batch that failed a check (the batches before it are in `batches`). */
  readonly corrupt?: CorruptBatch | undefined
}

export interface RawFetchResponse {
  readonly errorCode: number
  readonly clientSideThrottleTime: number
  readonly partitions: ReadonlyArray<RawPartition>
  /** Partitions in the answer that the request did not name, or that came twice (skipped). */
  readonly unexpected: ReadonlyArray<TopicPartition.TopicPartition>
}

export interface DecodeFetchOptions {
  /** Verify the CRC-32C of every batch that can be delivered. Default true. */
  readonly checkCrcs?: boolean
  /** The partitions asked for, with their fetch offsets; others are skipped. Default: all are decoded. */
  readonly partitions?: ReadonlyArray<Fetcher.FetchPartition>
}

/** The response's structure does not hold together (a count or length beyond the bytes there). */
export class MalformedResponse extends RangeError {
  override readonly name = "MalformedResponse"
}

/** A bounds-checked reader over the response payload. */
class Reader {
  pos = 0
  constructor(readonly buf: Buffer) {}

  private need(n: number, what: string): number {
    const at = this.pos
    if (at + n > this.buf.length) {
      throw new MalformedResponse(`${what} at byte ${at} needs ${n} bytes, ${this.buf.length - at} left`)
    }
    this.pos = at + n
    return at
  }
  int16(what: string): number {
    return this.buf.readInt16BE(this.need(2, what))
  }
  int32(what: string): number {
    return this.buf.readInt32BE(this.need(4, what))
  }
  int64(what: string): bigint {
    return this.buf.readBigInt64BE(this.need(8, what))
  }
  /** An array count, checked against the bytes left at `minElement` bytes per element (-1: null, 0). */
  count(what: string, minElement: number): number {
    const n = this.int32(what)
    if (n === -1) return 0
    if (n < 0 || n * minElement > this.buf.length - this.pos) {
      throw new MalformedResponse(`${what} ${n} at byte ${this.pos - 4} with ${this.buf.length - this.pos} bytes left`)
    }
    return n
  }
  string(what: string): string {
    const n = this.int16(what)
    if (n < 0) throw new MalformedResponse(`${what} length ${n}`)
    const at = this.need(n, what)
    return this.buf.toString("utf8", at, at + n)
  }
  /** A nullable byte string (null and empty are both empty). */
  bytes(what: string): Buffer {
    const n = this.int32(what)
    if (n === -1) return EMPTY
    if (n < 0) throw new MalformedResponse(`${what} length ${n}`)
    const at = this.need(n, what)
    return this.buf.subarray(at, at + n)
  }
}

const EMPTY = Buffer.alloc(0)

/** partition(4) error(2) highWatermark(8) lastStable(8) logStart(8) aborted(4) replica(4) records(4). */
const MIN_PARTITION = 30
const NONE: ReadonlyArray<AbortedTransaction> = []

/** Decodes a Fetch response of version 4..11. */
export const decodeFetchResponse = async (
  payload: Buffer,
  version: number,
  options: DecodeFetchOptions = {},
): Promise<RawFetchResponse> => {
  const checkCrcs = options.checkCrcs ?? true
  const asked = options.partitions === undefined ? undefined : new Map(options.partitions.map((p) => [TopicPartition.key(p), p.offset]))
  const seen = new Set<string>()
  const d = new Reader(payload)
  const throttleTime = d.int32("throttle time")
  const errorCode = version >= 7 ? d.int16("error code") : 0
  if (version >= 7) d.int32("session id")
  const partitions: Array<RawPartition> = []
  const unexpected: Array<TopicPartition.TopicPartition> = []
  const topicCount = d.count("topic count", 6)
  for (let t = 0; t < topicCount; t++) {
    const topic = d.string("topic name")
    const partitionCount = d.count(`partition count of ${topic}`, MIN_PARTITION)
    for (let p = 0; p < partitionCount; p++) {
      const partition = d.int32("partition")
      const partitionError = d.int16("partition error code")
      const highWatermark = d.int64("high watermark")
      const lastStableOffset = d.int64("last stable offset")
      const logStartOffset = version >= 5 ? d.int64("log start offset") : undefined
      const abortedCount = d.count("aborted transaction count", 16)
      let abortedTransactions = NONE
      if (abortedCount > 0) {
        const list: Array<AbortedTransaction> = new Array(abortedCount)
        for (let a = 0; a < abortedCount; a++) {
          list[a] = { producerId: d.int64("producer id"), firstOffset: d.int64("first offset") }
        }
        abortedTransactions = list
      }
      if (version >= 11) d.int32("preferred read replica")
      const records = d.bytes(`records of ${topic}-${partition}`)
      const key = TopicPartition.key({ topic, partition })
      const fetchOffset = asked === undefined ? -1n : asked.get(key)
      if (fetchOffset === undefined || seen.has(key)) {
        unexpected.push(TopicPartition.make(topic, partition))
        continue
      }
      seen.add(key)
      const set = await decodeRecordSet(records, { fetchOffset, checkCrcs })
      partitions.push({
        topic,
        partition,
        errorCode: partitionError,
        highWatermark,
        lastStableOffset,
        logStartOffset: logStartOffset !== undefined && logStartOffset >= 0n ? logStartOffset : undefined,
        abortedTransactions,
        batches: set.batches,
        legacyFormat: set.legacyFormat,
        corrupt: set.corrupt,
      })
    }
  }
  return { errorCode, clientSideThrottleTime: version >= 7 ? throttleTime : 0, partitions, unexpected }
}

const ABORT_MARKER = 0

const byFirstOffset = (a: AbortedTransaction, b: AbortedTransaction) =>
  a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0

/**
 * The deliverable records of one partition: at or above `fetchOffset`, no control records, and under
 * read_committed no records of aborted transactions. `nextOffset` is set when the answer moved past
 * offsets that hold nothing deliverable. Stops before a batch that fails its checks: that batch is
 * `corrupt` when nothing came before it.
 *
 * With `defer`, the batches to deliver are chosen here (offsets, transactions, control markers) and
 * their records are decoded only when `deferred.decode` is called: a record that does not parse is
 * found then, and `decode` gives the records before its batch and the error.
 */
const collect = (
  raw: RawPartition,
  fetchOffset: bigint,
  isolationLevel: Fetcher.IsolationLevel,
  defer: boolean,
): { readonly records: Fetcher.PartitionRecords; readonly corrupt: CorruptBatch | undefined } => {
  const records: Array<ConsumerRecord.ConsumerRecord> = []
  const toDecode: Array<BatchHeader> = []
  const readCommitted = isolationLevel === "read_committed"
  // Aborted transactions by first offset; a producer joins `aborting` once its first offset is reached
  // and leaves it at its ABORT marker (as the Java consumer does).
  const pendingAborts = readCommitted && raw.abortedTransactions.length > 0 ? [...raw.abortedTransactions].sort(byFirstOffset) : []
  const aborting = new Set<bigint>()
  let batchEnd = -1n
  let corrupt = raw.corrupt
  const { topic, partition } = raw
  for (const batch of raw.batches) {
    const lastOffset = batch.baseOffset + BigInt(batch.lastOffsetDelta)
    const producerId = batch.producerId
    if (readCommitted) {
      while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= lastOffset) {
        aborting.add(pendingAborts.shift()!.producerId)
      }
    }
    if (!batch.isControlBatch && lastOffset >= fetchOffset && !(readCommitted && batch.inTransaction && aborting.has(producerId))) {
      if (defer) toDecode.push(batch)
      else {
        try {
          decodeRecordsInto(batch, topic, partition, fetchOffset, records)
        } catch (e) {
          if (!(e instanceof CorruptBatch)) throw e
          corrupt = e
          break
        }
      }
    } else if (batch.isControlBatch && readCommitted && controlType(batch) === ABORT_MARKER) {
      aborting.delete(producerId)
    }
    if (lastOffset > batchEnd) batchEnd = lastOffset
  }
  const end = batchEnd + 1n
  const base = { _tag: "Records", topic, partition, highWatermark: raw.highWatermark, logStartOffset: raw.logStartOffset } as const
  if (toDecode.length > 0) {
    let count = 0
    let bytes = 0
    for (const b of toDecode) {
      count += b.recordCount
      bytes += b.body.length
    }
    const decode = (): Fetcher.DecodedRecords => {
      const out: Array<ConsumerRecord.ConsumerRecord> = []
      let decodedBytes = 0
      for (const batch of toDecode) {
        try {
          decodedBytes += decodeRecordsInto(batch, topic, partition, fetchOffset, out)
        } catch (e) {
          if (!(e instanceof CorruptBatch)) throw e
          const offset = e.offset > fetchOffset ? e.offset : fetchOffset
          return { records: out, bytes: decodedBytes, corrupt: new KafkaError.CorruptRecordBatch({ topic, partition, offset, reason: e.reason }) }
        }
      }
      return { records: out, bytes: decodedBytes, corrupt: undefined }
    }
    return { records: { ...base, records: [], nextOffset: undefined, deferred: { next: end, count, bytes, decode } }, corrupt }
  }
  const last = records.length > 0 ? records[records.length - 1]!.offset + 1n : fetchOffset
  return { records: { ...base, records, nextOffset: end > last ? end : undefined }, corrupt }
}

/** The deliverable records of one partition (see `partitionResult`); a corrupt batch ends them. */
export const partitionRecords = (
  raw: RawPartition,
  fetchOffset: bigint,
  isolationLevel: Fetcher.IsolationLevel,
): Fetcher.PartitionRecords => collect(raw, fetchOffset, isolationLevel, false).records

/**
 * One partition's result: its records, or `CorruptRecordBatch` when the answer cannot move the
 * position (the first batch to deliver is corrupt, or every batch ends below the fetch offset, which
 * a broker never sends and which would otherwise be fetched again forever).
 */
export const partitionResult = (
  raw: RawPartition,
  fetchOffset: bigint,
  isolationLevel: Fetcher.IsolationLevel,
  defer = false,
): Fetcher.PartitionFetchResult => {
  const { records, corrupt } = collect(raw, fetchOffset, isolationLevel, defer)
  if (records.records.length > 0 || records.nextOffset !== undefined || records.deferred !== undefined) return records
  const failure =
    corrupt ?? (raw.batches.length > 0 ? new CorruptBatch(fetchOffset, "every batch in the answer ends below the fetch offset") : undefined)
  if (failure === undefined) return records
  return {
    _tag: "Error",
    topic: raw.topic,
    partition: raw.partition,
    error: new KafkaError.CorruptRecordBatch({
      topic: raw.topic,
      partition: raw.partition,
      offset: failure.offset > fetchOffset ? failure.offset : fetchOffset,
      reason: failure.reason,
    }),
  }
}
