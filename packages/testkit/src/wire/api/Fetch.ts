/**
 * Fetch (1): the model's long-poll fetch, answered with the stored batches by reference (never
 * copied into one buffer first).
 */
import { ErrorCode } from "@kafka-effect/core"
import type { ConsumerRecord } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, constant, type Encoder, field, int16, int32, int64, none, readTopicIndexes, readTopics, struct, topics, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { encodeBatch } from "../protocol/RecordBatch.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface RequestPartition {
  readonly partition: number
  readonly currentLeaderEpoch: number
  readonly fetchOffset: bigint
  readonly logStartOffset: bigint
  readonly partitionMaxBytes: number
}

export interface RequestTopic {
  readonly topic: string
  readonly partitions: ReadonlyArray<RequestPartition>
}

export interface Request {
  readonly replicaId: number
  readonly maxWaitMs: number
  readonly minBytes: number
  readonly maxBytes: number
  readonly isolationLevel: number
  readonly sessionId: number
  readonly sessionEpoch: number
  readonly topics: ReadonlyArray<RequestTopic>
  readonly forgotten: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<number> }>
  readonly rackId: string
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.Fetch, v)
  const replicaId = r.int32()
  const maxWaitMs = r.int32()
  const minBytes = r.int32()
  const maxBytes = v >= 3 ? r.int32() : 0x7fffffff
  const isolationLevel = v >= 4 ? r.int8() : 0
  const sessionId = v >= 7 ? r.int32() : 0
  const sessionEpoch = v >= 7 ? r.int32() : -1
  const topics = readTopics(r, f, (r): RequestPartition => {
    const partition = r.int32()
    const currentLeaderEpoch = v >= 9 ? r.int32() : -1
    const fetchOffset = r.int64()
    if (v >= 12) r.int32() // last fetched epoch
    const logStartOffset = v >= 5 ? r.int64() : -1n
    const partitionMaxBytes = r.int32()
    return { partition, currentLeaderEpoch, fetchOffset, logStartOffset, partitionMaxBytes }
  }).map(({ name, partitions }): RequestTopic => ({ topic: name, partitions }))
  const forgotten = v >= 7 ? r.array(f, readTopicIndexes(f)).map(({ name, partitions }) => ({ topic: name, partitions })) : []
  const rackId = v >= 11 ? r.str(f) : ""
  endStruct(r, f)
  return { replicaId, maxWaitMs, minBytes, maxBytes, isolationLevel, sessionId, sessionEpoch, topics, forgotten, rackId }
}

export interface ResponsePartition {
  readonly partition: number
  readonly errorCode: number
  readonly highWatermark: bigint
  readonly lastStableOffset: bigint
  readonly logStartOffset: bigint
  /** Whole batches, written back to back (never copied into one buffer first). */
  readonly records: ReadonlyArray<Uint8Array>
}

export type ResponseTopic = Topic<"topic", ResponsePartition>

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly sessionId: number
  readonly responses: ReadonlyArray<ResponseTopic>
}

/** The records field: one length for all batches, then the batches spliced in by reference. */
const batches: Encoder<ReadonlyArray<Uint8Array>> = (w, at, records) => {
  const size = records.reduce((s, b) => s + b.byteLength, 0)
  if (at.f) w.uvarint(size + 1)
  else w.int32(size)
  for (const b of records) w.splice(b)
}

export const encodeResponse = body(
  ApiKey.Fetch,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field("errorCode", int16, { since: 7 }),
    field("sessionId", int32, { since: 7 }),
    field(
      "responses",
      topics(
        "topic",
        struct<ResponsePartition>(
          field("partition", int32),
          field("errorCode", int16),
          field("highWatermark", int64),
          field("lastStableOffset", int64, { since: 4 }),
          field("logStartOffset", int64, { since: 5 }),
          constant(array(int64), none, { since: 4 }), // aborted transactions: none
          constant(int32, -1, { since: 11 }), // preferred read replica
          field("records", batches),
        ),
      ),
    ),
  ),
)

/** Encoded batches that have no bytes as produced (control-API produce, compaction, truncation). */
const encodedBatches = new WeakMap<ReadonlyArray<ConsumerRecord.ConsumerRecord>, Uint8Array>()

const batchBytes = (batch: BrokerModel.RecordBatch): Uint8Array | undefined => {
  const raw = batch.raw
  if (raw !== undefined && raw.byteLength >= 61) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    if (view.getBigInt64(0) === batch.baseOffset) return raw
    const copy = raw.slice()
    new DataView(copy.buffer).setBigInt64(0, batch.baseOffset)
    return copy
  }
  if (batch.records.length === 0) return undefined
  const cached = encodedBatches.get(batch.records)
  if (cached !== undefined) return cached
  const bytes = encodeBatch(batch.records, {
    baseOffset: batch.baseOffset,
    lastOffset: batch.lastOffset,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    logAppendTime: (batch.attributes & 0x08) !== 0,
  })
  encodedBatches.set(batch.records, bytes)
  return bytes
}

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  const partitions = req.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.fetchOffset, maxBytes: p.partitionMaxBytes })),
  )
  return Effect.map(
    ctx.model.fetch({
      partitions,
      maxWaitMs: req.maxWaitMs,
      minBytes: req.minBytes,
      maxBytes: req.maxBytes,
      granularity: "batch",
      brokerId: ctx.nodeId,
    }),
    (results) => {
      let i = 0
      const responses = req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((): ResponsePartition => {
          const res = results[i++]
          // Kafka answers a partition error without watermarks: a client learns them with ListOffsets.
          if (res._tag === "Error") {
            return { partition: res.partition, errorCode: res.code, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: [] }
          }
          const records: Array<Uint8Array> = []
          for (const b of res.batches) {
            const bytes = batchBytes(b)
            if (bytes !== undefined) records.push(bytes)
          }
          return {
            partition: res.partition,
            errorCode: ErrorCode.NONE,
            highWatermark: res.highWatermark,
            lastStableOffset: res.lastStableOffset,
            logStartOffset: res.logStartOffset,
            records,
          }
        }),
      }))
      return reply(h, encodeResponse, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses })
    },
  )
}

export const api: Api = define(ApiKey.Fetch, decodeRequest, answer)
