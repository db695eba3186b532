/**
 * Produce (0): batches checked (size, magic, CRC, compression) and appended as their bytes; the
 * idempotent producer's sequence numbers deduplicate retries.
 */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type { ProducedRecord } from "../../TestBroker.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { UnsupportedCompression } from "../protocol/Compression.js"
import { array, body, constant, field, int16, int32, int64, none, nullableString, readTopics, struct, topics, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type BatchRecord, crcValid, decodeRecords, magicOf, splitBatches } from "../protocol/RecordBatch.js"
import { type Api, type Context, define, type Outcome, onLeaders, type RequestFault, reply } from "./Api.js"

export interface PartitionData {
  readonly index: number
  readonly records: Uint8Array | null
}

export interface Request {
  readonly transactionalId: string | null
  readonly acks: number
  readonly timeoutMs: number
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<PartitionData> }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.Produce, v)
  const transactionalId = v >= 3 ? r.nullableStr(f) : null
  const acks = r.int16()
  const timeoutMs = r.int32()
  const topics = readTopics(r, f, (r) => ({ index: r.int32(), records: r.nullableByteArray(f) }))
  endStruct(r, f)
  return { transactionalId, acks, timeoutMs, topics }
}

export interface PartitionResponse {
  readonly index: number
  readonly errorCode: number
  readonly baseOffset: bigint
  readonly logAppendTimeMs: bigint
  readonly logStartOffset: bigint
}

export type TopicResponse = Topic<"name", PartitionResponse>

export interface Response {
  readonly responses: ReadonlyArray<TopicResponse>
  readonly throttleTimeMs: number
}

export const encodeResponse = body(
  ApiKey.Produce,
  struct<Response>(
    field(
      "responses",
      topics(
        "name",
        struct<PartitionResponse>(
          field("index", int32),
          field("errorCode", int16),
          field("baseOffset", int64),
          field("logAppendTimeMs", int64, { since: 2 }),
          field("logStartOffset", int64, { since: 5 }),
          constant(array(int32), none, { since: 8 }), // record errors
          constant(nullableString, null, { since: 8 }), // error message
        ),
      ),
    ),
    field("throttleTimeMs", int32, { since: 1 }),
  ),
)

/** A produced batch checked and decoded, ready for the model. */
interface IncomingBatch {
  readonly raw: Uint8Array
  readonly records: Array<ProducedRecord>
  readonly attributes: number
  readonly producerId: bigint
  readonly producerEpoch: number
  readonly baseSequence: number
}

/** The records of a stored batch, decoded again from its bytes (the log keeps only those). */
const recordsOf = (raw: Uint8Array): ReadonlyArray<BatchRecord> => decodeRecords(raw).records

const checkBatches = (records: Uint8Array | null, maxMessageBytes: number): Array<IncomingBatch> | number => {
  if (records === null || records.byteLength === 0) return ErrorCode.CORRUPT_MESSAGE
  const raws = splitBatches(records)
  if (raws.length === 0) return ErrorCode.CORRUPT_MESSAGE
  const out: Array<IncomingBatch> = []
  for (const raw of raws) {
    if (raw.byteLength > maxMessageBytes) return ErrorCode.MESSAGE_TOO_LARGE
    if (magicOf(raw) !== 2) return ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT
    if (!crcValid(raw)) return ErrorCode.CORRUPT_MESSAGE
    try {
      const { header, records: decoded } = decodeRecords(raw)
      out.push({
        raw: raw.slice(),
        records: decoded.map((d) => ({ key: d.key, value: d.value, headers: d.headers, timestamp: d.timestamp })),
        attributes: header.attributes,
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
      })
    } catch (cause) {
      if (cause instanceof UnsupportedCompression) return ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
      return ErrorCode.CORRUPT_MESSAGE
    }
  }
  return out
}

/** Appends a partition's batches (after the leader check): its answer, or an error code. */
const append = (ctx: Context, tp: TopicPartition.TopicPartition, p: PartitionData): Effect.Effect<PartitionResponse | number> =>
  Effect.gen(function* () {
    const batches = checkBatches(p.records, ctx.maxMessageBytes)
    if (typeof batches === "number") return batches
    let baseOffset = -1n
    const partitionKey = TopicPartition.key(tp)
    for (const b of batches) {
      const idempotent = b.producerId >= 0n && b.baseSequence >= 0
      if (idempotent) {
        const check = ctx.producers.check(b.producerId, b.producerEpoch, partitionKey, b.baseSequence)
        if (check._tag === "OutOfOrder") return ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
        if (check._tag === "Duplicate") {
          // A retry of a batch already in the log: its offset again, nothing appended.
          if (baseOffset < 0n) baseOffset = check.baseOffset
          continue
        }
      }
      const base = yield* Effect.either(
        ctx.model.produce(tp, b.records, {
          attributes: b.attributes,
          producerId: b.producerId,
          producerEpoch: b.producerEpoch,
          baseSequence: b.baseSequence,
          raw: b.raw,
          decodeRaw: recordsOf,
        }),
      )
      if (base._tag === "Left") return base.left.code
      if (idempotent) {
        ctx.producers.record(b.producerId, b.producerEpoch, partitionKey, b.baseSequence, b.records.length, base.right)
      }
      // The stored bytes carry the offset the log gave them (the CRC does not cover it).
      new DataView(b.raw.buffer, b.raw.byteOffset, b.raw.byteLength).setBigInt64(0, base.right)
      if (baseOffset < 0n) baseOffset = base.right
    }
    const after = yield* Effect.either(ctx.model.partitionOffsets(tp))
    return {
      index: p.index,
      errorCode: ErrorCode.NONE,
      baseOffset,
      logAppendTimeMs: -1n,
      logStartOffset: after._tag === "Right" ? after.right.logStartOffset : -1n,
    }
  })

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  onLeaders(
    ctx,
    "Produce",
    req.topics,
    (p) => p.index,
    (p, errorCode): PartitionResponse => ({ index: p.index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n }),
    (tp, p) => append(ctx, tp, p),
    (responses) => (req.acks === 0 ? { _tag: "NoReply" } : reply(h, encodeResponse, { responses, throttleTimeMs: 0 })),
  )

export const api: Api = define(ApiKey.Produce, decodeRequest, answer)
