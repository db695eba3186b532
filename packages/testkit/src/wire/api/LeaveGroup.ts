/** LeaveGroup (13): members leave (v0-2: the one sending it; v3+: a list). */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, int32, nullableString, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, groupRequest, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly groupInstanceId: string | null }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.LeaveGroup, v)
  const groupId = r.str(f)
  if (v <= 2) {
    const memberId = r.str(f)
    endStruct(r, f)
    return { groupId, members: [{ memberId, groupInstanceId: null }] }
  }
  const members = r.array(f, (r) => {
    const memberId = r.str(f)
    const groupInstanceId = r.nullableStr(f)
    if (v >= 5) r.nullableStr(f) // reason
    endStruct(r, f)
    return { memberId, groupInstanceId }
  })
  endStruct(r, f)
  return { groupId, members }
}

export interface MemberResponse {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly errorCode: number
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly members: ReadonlyArray<MemberResponse>
}

export const encodeResponse = body(
  ApiKey.LeaveGroup,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field("errorCode", int16),
    field(
      "members",
      array(struct<MemberResponse>(field("memberId", string), field("groupInstanceId", nullableString), field("errorCode", int16))),
      { since: 3 },
    ),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  groupRequest(ctx, "LeaveGroup", req.groupId, (code) =>
    Effect.map(
      code !== ErrorCode.NONE
        ? Effect.succeed(req.members.map(() => code))
        : ctx.coordinator.leave(
            req.groupId,
            req.members.map((m) => m.memberId),
          ),
      (codes) =>
        reply(h, encodeResponse, {
          throttleTimeMs: 0,
          // v0-2 answer for their one member; v3+ per member with a top-level NONE.
          errorCode: h.apiVersion <= 2 ? (codes[0] ?? ErrorCode.NONE) : code,
          members: req.members.map((m, i) => ({ ...m, errorCode: codes[i] })),
        }),
    ),
  )

export const api: Api = define(ApiKey.LeaveGroup, decodeRequest, answer)
