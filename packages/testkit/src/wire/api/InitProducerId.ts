/** InitProducerId (22): a producer id for an idempotent producer (transactions are refused). */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, int64, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly transactionalId: string | null
  readonly transactionTimeoutMs: number
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.InitProducerId, v)
  const transactionalId = r.nullableStr(f)
  const transactionTimeoutMs = r.int32()
  if (v >= 3) {
    r.int64() // producer id
    r.int16() // producer epoch
  }
  endStruct(r, f)
  return { transactionalId, transactionTimeoutMs }
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly producerId: bigint
  readonly producerEpoch: number
}

export const encodeResponse = body(
  ApiKey.InitProducerId,
  struct<Response>(field("throttleTimeMs", int32), field("errorCode", int16), field("producerId", int64), field("producerEpoch", int16)),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "InitProducerId",
    [],
    (sc) =>
      Effect.sync(() => {
        // Transactions are not served: a transactional producer gets a clear, non-retriable refusal.
        const errorCode = sc.requestCode ?? (req.transactionalId === null ? ErrorCode.NONE : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        return reply(h, encodeResponse, {
          throttleTimeMs: 0,
          errorCode,
          producerId: errorCode === ErrorCode.NONE ? ctx.producers.allocate() : -1n,
          producerEpoch: errorCode === ErrorCode.NONE ? 0 : -1,
        })
      }),
    { brokerId: ctx.nodeId },
  )

export const api: Api = define(ApiKey.InitProducerId, decodeRequest, answer)
