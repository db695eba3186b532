/** OffsetCommit (8): partitions checked in Kafka's order, then the member and generation, then stored. */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, readTopics, struct, topics, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, coordinates, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{
      readonly partitionIndex: number
      readonly committedOffset: bigint
      readonly committedLeaderEpoch: number
      readonly committedMetadata: string | null
    }>
  }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.OffsetCommit, v)
  const groupId = r.str(f)
  const generationId = v >= 1 ? r.int32() : -1
  const memberId = v >= 1 ? r.str(f) : ""
  const groupInstanceId = v >= 7 ? r.nullableStr(f) : null
  if (v >= 2 && v <= 4) r.int64() // retention time
  const topics = readTopics(r, f, (r) => {
    const partitionIndex = r.int32()
    const committedOffset = r.int64()
    const committedLeaderEpoch = v >= 6 ? r.int32() : -1
    if (v === 1) r.int64() // commit timestamp
    const committedMetadata = r.nullableStr(f)
    return { partitionIndex, committedOffset, committedLeaderEpoch, committedMetadata }
  })
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId, topics }
}

export interface PartitionResponse {
  readonly partitionIndex: number
  readonly errorCode: number
}

export type TopicResponse = Topic<"name", PartitionResponse>

export interface Response {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<TopicResponse>
}

export const encodeResponse = body(
  ApiKey.OffsetCommit,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 3 }),
    field("topics", topics("name", struct<PartitionResponse>(field("partitionIndex", int32), field("errorCode", int16)))),
  ),
)

/** Kafka's offset.metadata.max.bytes (default 4096, counted in characters). */
const MAX_OFFSET_METADATA = 4096

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partitionIndex)))
  return ctx.model.serve(
    "OffsetCommit",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const notHere =
          sc.requestCode ?? (coordinates(ctx, req.groupId) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR)
        const partitionCounts = new Map(
          (yield* ctx.model.metadata(req.topics.map((t) => t.name))).map((t) => [t.name, t.partitions.length]),
        )
        const exists = (topic: string, partition: number) => partition >= 0 && partition < (partitionCounts.get(topic) ?? 0)
        const toStore: Array<{ topic: string; partition: number; offset: bigint; metadata: string | null }> = []
        const codes = req.topics.map((t) =>
          t.partitions.map((p) => {
            const tp = TopicPartition.make(t.name, p.partitionIndex)
            const code =
              notHere ||
              sc.injectedCode(tp) ||
              (exists(t.name, p.partitionIndex) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) ||
              ((p.committedMetadata?.length ?? 0) > MAX_OFFSET_METADATA ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE)
            if (code === ErrorCode.NONE) toStore.push({ ...tp, offset: p.committedOffset, metadata: p.committedMetadata })
            return code
          }),
        )
        // The member and generation are checked (and the offsets stored) by the coordinator.
        const groupCode = notHere !== ErrorCode.NONE ? notHere : yield* ctx.coordinator.commit(req.groupId, req.generationId, req.memberId, toStore)
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const topics = req.topics.map((t, ti) => ({
          name: t.name,
          partitions: t.partitions.map((p, pi) => {
            const errorCode = codes[ti][pi] || groupCode
            if (errorCode !== ErrorCode.NONE) errors.push({ topic: t.name, partition: p.partitionIndex, code: errorCode })
            return { partitionIndex: p.partitionIndex, errorCode }
          }),
        }))
        sc.reportErrors(errors)
        return reply(h, encodeResponse, { throttleTimeMs: 0, topics })
      }),
    { brokerId: ctx.nodeId },
  )
}

export const api: Api = define(ApiKey.OffsetCommit, decodeRequest, answer)
