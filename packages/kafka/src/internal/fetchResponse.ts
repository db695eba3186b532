/**
 * Fetch response decoding without kafkajs's `parse` (which throws on the first errored partition and
 * drops every other partition's records), keeping batch-level facts (producer id, transactional and
 * control flags, last offset) that read_committed filtering and `nextOffset` need.
 */
import type { ConsumerRecord, Fetcher } from "@kafka-effect/core"
import { Decoder } from "./kafkajs.js"
import { type BatchHeader, controlType, decodeRecordSet, decodeRecordsInto } from "./recordBatch.js"

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

const decodeBatches = (d: Decoder) => {
  const size = d.readInt32()
  if (size <= 0 || !d.canReadBytes(size)) return Promise.resolve({ batches: [], legacyFormat: false })
  return decodeRecordSet(d.readBytes(size))
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
    const lastOffset = batch.baseOffset + BigInt(batch.lastOffsetDelta)
    if (lastOffset > batchEnd) batchEnd = lastOffset
    const producerId = batch.producerId
    if (readCommitted) {
      while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= lastOffset) {
        aborting.add(pendingAborts.shift()!.producerId)
      }
    }
    if (batch.isControlBatch) {
      if (readCommitted && controlType(batch) === ABORT_MARKER) aborting.delete(producerId)
      continue
    }
    if (lastOffset < fetchOffset) continue
    if (readCommitted && batch.inTransaction && aborting.has(producerId)) continue
    decodeRecordsInto(batch, topic, partition, fetchOffset, records)
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
