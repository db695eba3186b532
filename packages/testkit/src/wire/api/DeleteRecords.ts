/** DeleteRecords (21): the log start offset moved up, on the partition's leader. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, int64, readTopics, struct, topics, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, onLeaders, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly offset: bigint }>
  }>
  readonly timeoutMs: number
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.DeleteRecords, v)
  const topics = readTopics(r, f, (r) => ({ partitionIndex: r.int32(), offset: r.int64() }))
  const timeoutMs = r.int32()
  endStruct(r, f)
  return { topics, timeoutMs }
}

export interface PartitionResponse {
  readonly partitionIndex: number
  readonly lowWatermark: bigint
  readonly errorCode: number
}

export type TopicResponse = Topic<"name", PartitionResponse>

export interface Response {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<TopicResponse>
}

export const encodeResponse = body(
  ApiKey.DeleteRecords,
  struct<Response>(
    field("throttleTimeMs", int32),
    field(
      "topics",
      topics("name", struct<PartitionResponse>(field("partitionIndex", int32), field("lowWatermark", int64), field("errorCode", int16))),
    ),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  onLeaders(
    ctx,
    "DeleteRecords",
    req.topics,
    (p) => p.partitionIndex,
    (p, errorCode): PartitionResponse => ({ partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode }),
    (tp, p) =>
      Effect.map(
        Effect.either(ctx.model.deleteRecords(tp, p.offset)),
        (low): PartitionResponse | number =>
          low._tag === "Left" ? low.left.code : { partitionIndex: p.partitionIndex, lowWatermark: low.right, errorCode: ErrorCode.NONE },
      ),
    (topics) => reply(h, encodeResponse, { throttleTimeMs: 0, topics }),
  )

export const api: Api = define(ApiKey.DeleteRecords, decodeRequest, answer)
