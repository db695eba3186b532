/** Heartbeat (12): a member is alive; the answer says whether the group is rebalancing. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, groupRequest, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.Heartbeat, v)
  const groupId = r.str(f)
  const generationId = r.int32()
  const memberId = r.str(f)
  const groupInstanceId = v >= 3 ? r.nullableStr(f) : null
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId }
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
}

export const encodeResponse = body(ApiKey.Heartbeat, struct<Response>(field("throttleTimeMs", int32, { since: 1 }), field("errorCode", int16)))

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  groupRequest(ctx, "Heartbeat", req.groupId, (code) =>
    Effect.map(code !== ErrorCode.NONE ? Effect.succeed(code) : ctx.coordinator.heartbeat(req.groupId, req.generationId, req.memberId), (errorCode) =>
      reply(h, encodeResponse, { throttleTimeMs: 0, errorCode }),
    ),
  )

export const api: Api = define(ApiKey.Heartbeat, decodeRequest, answer)
