/**
 * Produce (0): batches checked (size, magic, CRC, compression) and appended as their bytes; the
 * idempotent producer's sequence numbers deduplicate retries.
 */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import type { ProducedRecord } from "../../TestBroker.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { UnsupportedCompression } from "../protocol/Compression.js"
import { array, body, constant, field, int16, int32, int64, none, nullableString, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type BatchRecord, crcValid, decodeRecords, magicOf, splitBatches } from "../protocol/RecordBatch.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

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
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const index = r.int32()
      const records = r.nullableByteArray(f)
      endStruct(r, f)
      return { index, records }
    })
    endStruct(r, f)
    return { name, partitions }
  })
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

export interface TopicResponse {
  readonly name: string
  readonly partitions: ReadonlyArray<PartitionResponse>
}

export interface Response {
  readonly responses: ReadonlyArray<TopicResponse>
  readonly throttleTimeMs: number
}

export const encodeResponse = body(
  ApiKey.Produce,
  struct<Response>(
    field(
      "responses",
      array(
        struct<TopicResponse>(
          field("name", string),
          field(
            "partitions",
            array(
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

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.index)))
  return ctx.model.serve(
    "Produce",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const responses: Response["responses"] = yield* Effect.forEach(req.topics, (t) =>
          Effect.map(
            Effect.forEach(t.partitions, (p) =>
              Effect.gen(function* () {
                const tp = TopicPartition.make(t.name, p.index)
                const fail = (errorCode: number): PartitionResponse => {
                  errors.push({ topic: t.name, partition: p.index, code: errorCode })
                  return { index: p.index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n }
                }
                const injected = sc.injectedCode(tp)
                if (injected !== undefined) return fail(injected)
                const state = yield* Effect.either(ctx.model.partitionOffsets(tp))
                if (state._tag === "Left") return fail(state.left.code)
                if (state.right.leader !== ctx.nodeId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                const batches = checkBatches(p.records, ctx.maxMessageBytes)
                if (typeof batches === "number") return fail(batches)
                let baseOffset = -1n
                const partitionKey = TopicPartition.key(tp)
                for (const b of batches) {
                  const idempotent = b.producerId >= 0n && b.baseSequence >= 0
                  if (idempotent) {
                    const check = ctx.producers.check(b.producerId, b.producerEpoch, partitionKey, b.baseSequence)
                    if (check._tag === "OutOfOrder") return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
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
                  if (base._tag === "Left") return fail(base.left.code)
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
              }),
            ),
            (partitions) => ({ name: t.name, partitions }),
          ),
        )
        sc.reportErrors(errors)
        if (req.acks === 0) return { _tag: "NoReply" } satisfies Outcome
        return reply(h, encodeResponse, { responses, throttleTimeMs: 0 })
      }),
    { brokerId: ctx.nodeId },
  )
}

export const api: Api = define(ApiKey.Produce, decodeRequest, answer)
