/** FindCoordinator (10): the broker coordinating a group (transactions are not served). */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, nullableString, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, coordinatorFor, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly key: string
  /** 0 group, 1 transaction. */
  readonly keyType: number
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.FindCoordinator, v)
  const key = r.str(f)
  const keyType = v >= 1 ? r.int8() : 0
  endStruct(r, f)
  return { key, keyType }
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly nodeId: number
  readonly host: string
  readonly port: number
}

export const encodeResponse = body(
  ApiKey.FindCoordinator,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field("errorCode", int16),
    field("errorMessage", nullableString, { since: 1 }),
    field("nodeId", int32),
    field("host", string),
    field("port", int32),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "FindCoordinator",
    [],
    (sc) =>
      Effect.sync(() => {
        const node = ctx.model.brokers[coordinatorFor(req.key, ctx.model.brokers.length)]
        const errorCode = sc.requestCode ?? (req.keyType === 0 ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE)
        return reply(h, encodeResponse, {
          throttleTimeMs: 0,
          errorCode,
          errorMessage: null,
          nodeId: errorCode === ErrorCode.NONE ? node.nodeId : -1,
          host: errorCode === ErrorCode.NONE ? node.host : "",
          port: errorCode === ErrorCode.NONE ? node.port : -1,
        })
      }),
    { brokerId: ctx.nodeId },
  )

export const api: Api = define(ApiKey.FindCoordinator, decodeRequest, answer)
