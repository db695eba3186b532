/** SyncGroup (14): the leader hands out assignments; every member gets its own. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, bytes, field, int16, int32, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, groupRequest, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  readonly generationId: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Uint8Array }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.SyncGroup, v)
  const groupId = r.str(f)
  const generationId = r.int32()
  const memberId = r.str(f)
  const groupInstanceId = v >= 3 ? r.nullableStr(f) : null
  const assignments = r.array(f, (r) => {
    const memberId = r.str(f)
    const assignment = r.byteArray(f).slice()
    endStruct(r, f)
    return { memberId, assignment }
  })
  endStruct(r, f)
  return { groupId, generationId, memberId, groupInstanceId, assignments }
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly assignment: Uint8Array
}

export const encodeResponse = body(
  ApiKey.SyncGroup,
  struct<Response>(field("throttleTimeMs", int32, { since: 1 }), field("errorCode", int16), field("assignment", bytes)),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  groupRequest(ctx, "SyncGroup", req.groupId, (code) =>
    Effect.map(code !== ErrorCode.NONE ? Effect.succeed({ errorCode: code, assignment: new Uint8Array(0) }) : ctx.coordinator.sync(req), (res) =>
      reply(h, encodeResponse, { throttleTimeMs: 0, ...res }),
    ),
  )

export const api: Api = define(ApiKey.SyncGroup, decodeRequest, answer)
