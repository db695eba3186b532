/**
 * Fetch response decoding without kafkajs's `parse` (which throws on the first errored partition and
 * drops every other partition's records), keeping batch-level facts (producer id, transactional and
 * control flags, last offset) that read_committed filtering and `nextOffset` need.
 */
import type { ConsumerRecord, Fetcher } from "@kafka-effect/core"
import { type DecodedRecordBatch, Decoder, decodeRecordBatch } from "./kafkajs.js"

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
  readonly batches: ReadonlyArray<DecodedRecordBatch>
  /** The record set used the legacy message format (magic < 2), which this decoder does not read. */
  readonly legacyFormat: boolean
}

export interface RawFetchResponse {
  readonly errorCode: number
  readonly clientSideThrottleTime: number
  readonly partitions: ReadonlyArray<RawPartition>
}

const readInt64 = (d: Decoder): bigint => {
  const v = d.buffer.readBigInt64BE(d.offset)
  d.offset += 8
  return v
}

const MAGIC_OFFSET = 16
const RECORD_BATCH_OVERHEAD = 49

const decodeBatches = async (
  d: Decoder,
): Promise<{ batches: Array<DecodedRecordBatch>; legacyFormat: boolean }> => {
  const size = d.readInt32()
  if (size <= 0 || !d.canReadBytes(size)) return { batches: [], legacyFormat: false }
  const bytes = d.readBytes(size)
  if (bytes.length > MAGIC_OFFSET && bytes.readInt8(MAGIC_OFFSET) < 2) return { batches: [], legacyFormat: true }
  const batches: Array<DecodedRecordBatch> = []
  const rd = new Decoder(bytes)
  while (rd.canReadBytes(RECORD_BATCH_OVERHEAD)) {
    try {
      batches.push(await decodeRecordBatch(rd))
    } catch (e) {
      // maxBytes may cut the last batch short: the next fetch starts there.
      if (e instanceof Error && e.name === "KafkaJSPartialMessageError") break
      throw e
    }
  }
  return { batches, legacyFormat: false }
}

/** Decodes a Fetch response of version 4..11. */
export const decodeFetchResponse = async (payload: Buffer, version: number): Promise<RawFetchResponse> => {
  const d = new Decoder(payload)
  const throttleTime = d.readInt32()
  const errorCode = version >= 7 ? d.readInt16() : 0
  if (version >= 7) d.readInt32() // session id
  const partitions: Array<RawPartition> = []
  const topicCount = d.readInt32()
  for (let t = 0; t < topicCount; t++) {
    const topic = d.readString() ?? ""
    const partitionCount = d.readInt32()
    for (let p = 0; p < partitionCount; p++) {
      const partition = d.readInt32()
      const partitionError = d.readInt16()
      const highWatermark = readInt64(d)
      const lastStableOffset = readInt64(d)
      const logStartOffset = version >= 5 ? readInt64(d) : undefined
      const abortedTransactions = d.readArray(
        (a): AbortedTransaction => ({ producerId: readInt64(a), firstOffset: readInt64(a) }),
      )
      if (version >= 11) d.readInt32() // preferred read replica
      const { batches, legacyFormat } = await decodeBatches(d)
      partitions.push({
        topic,
        partition,
        errorCode: partitionError,
        highWatermark,
        lastStableOffset,
        logStartOffset: logStartOffset !== undefined && logStartOffset >= 0n ? logStartOffset : undefined,
        abortedTransactions,
        batches,
        legacyFormat,
      })
    }
  }
  return { errorCode, clientSideThrottleTime: version >= 7 ? throttleTime : 0, partitions }
}

const ABORT_MARKER = 0

/** Whether a control batch is an ABORT marker (control record key: int16 version, int16 type). */
const isAbortMarker = (batch: DecodedRecordBatch): boolean => {
  const key = batch.records[0]?.key
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER
}

const toHeaders = (headers: DecodedRecordBatch["records"][number]["headers"]): Array<ConsumerRecord.RecordHeader> => {
  const out: Array<ConsumerRecord.RecordHeader> = []
  for (const key in headers) {
    const v = headers[key]
    if (v === null || v === undefined) out.push({ key, value: null })
    else if (Buffer.isBuffer(v)) out.push({ key, value: v })
    else for (const one of v) out.push({ key, value: one })
  }
  return out
}

/**
 * The deliverable records of one partition: at or above `fetchOffset`, no control records, and under
 * read_committed no records of aborted transactions. `nextOffset` is set when the answer moved past
 * offsets that hold nothing deliverable.
 */
export const partitionRecords = (
  raw: RawPartition,
  fetchOffset: bigint,
  isolationLevel: Fetcher.IsolationLevel,
): Fetcher.PartitionRecords => {
  const records: Array<ConsumerRecord.ConsumerRecord> = []
  const readCommitted = isolationLevel === "read_committed"
  // Aborted transactions by first offset; a producer joins `aborting` once its first offset is reached
  // and leaves it at its ABORT marker (as the Java consumer does).
  const pendingAborts = readCommitted
    ? [...raw.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
    : []
  const aborting = new Set<bigint>()
  let batchEnd = -1n
  const { topic, partition } = raw
  for (const batch of raw.batches) {
    const firstOffset = BigInt(batch.firstOffset)
    const lastOffset = firstOffset + BigInt(batch.lastOffsetDelta)
    if (lastOffset > batchEnd) batchEnd = lastOffset
    const producerId = BigInt(batch.producerId)
    if (readCommitted) {
      while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= lastOffset) {
        aborting.add(pendingAborts.shift()!.producerId)
      }
    }
    if (batch.isControlBatch) {
      if (readCommitted && isAbortMarker(batch)) aborting.delete(producerId)
      continue
    }
    if (lastOffset < fetchOffset) continue
    if (readCommitted && batch.inTransaction && aborting.has(producerId)) continue
    for (const r of batch.records) {
      const offset = BigInt(r.offset)
      if (offset < fetchOffset) continue
      records.push({
        topic,
        partition,
        offset,
        timestamp: Number(r.timestamp),
        key: r.key,
        value: r.value,
        headers: toHeaders(r.headers),
      })
    }
  }
  const last = records.length > 0 ? records[records.length - 1]!.offset + 1n : fetchOffset
  const end = batchEnd + 1n
  return {
    _tag: "Records",
    topic,
    partition,
    records,
    highWatermark: raw.highWatermark,
    logStartOffset: raw.logStartOffset,
    nextOffset: end > last ? end : undefined,
  }
}
