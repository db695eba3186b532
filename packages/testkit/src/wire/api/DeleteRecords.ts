/** DeleteRecords (21): the log start offset moved up, on the partition's leader. */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, int32, int64, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly offset: bigint }>
  }>
  readonly timeoutMs: number
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.DeleteRecords, v)
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const partitions = r.array(f, (r) => {
      const partitionIndex = r.int32()
      const offset = r.int64()
      endStruct(r, f)
      return { partitionIndex, offset }
    })
    endStruct(r, f)
    return { name, partitions }
  })
  const timeoutMs = r.int32()
  endStruct(r, f)
  return { topics, timeoutMs }
}

export interface PartitionResponse {
  readonly partitionIndex: number
  readonly lowWatermark: bigint
  readonly errorCode: number
}

export interface TopicResponse {
  readonly name: string
  readonly partitions: ReadonlyArray<PartitionResponse>
}

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
      array(
        struct<TopicResponse>(
          field("name", string),
          field(
            "partitions",
            array(struct<PartitionResponse>(field("partitionIndex", int32), field("lowWatermark", int64), field("errorCode", int16))),
          ),
        ),
      ),
    ),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  const tps = req.topics.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partitionIndex)))
  return ctx.model.serve(
    "DeleteRecords",
    tps,
    (sc) =>
      Effect.gen(function* () {
        const errors: Array<BrokerModel.PartitionErrorCode> = []
        const topics = yield* Effect.forEach(req.topics, (t) =>
          Effect.map(
            Effect.forEach(t.partitions, (p) =>
              Effect.gen(function* () {
                const tp = TopicPartition.make(t.name, p.partitionIndex)
                const fail = (errorCode: number) => {
                  errors.push({ ...tp, code: errorCode })
                  return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode }
                }
                const injected = sc.injectedCode(tp)
                if (injected !== undefined) return fail(injected)
                const state = yield* Effect.either(ctx.model.partitionOffsets(tp))
                if (state._tag === "Left") return fail(state.left.code)
                if (state.right.leader !== ctx.nodeId) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                const low = yield* Effect.either(ctx.model.deleteRecords(tp, p.offset))
                if (low._tag === "Left") return fail(low.left.code)
                return { partitionIndex: p.partitionIndex, lowWatermark: low.right, errorCode: ErrorCode.NONE }
              }),
            ),
            (partitions) => ({ name: t.name, partitions }),
          ),
        )
        sc.reportErrors(errors)
        return reply(h, encodeResponse, { throttleTimeMs: 0, topics })
      }),
    { brokerId: ctx.nodeId },
  )
}

export const api: Api = define(ApiKey.DeleteRecords, decodeRequest, answer)
