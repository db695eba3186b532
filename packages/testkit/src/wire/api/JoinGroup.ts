/** JoinGroup (11): a member joins (or rejoins) a group; the coordinator answers when the group forms. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, bytes, field, int16, int32, nullableString, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, groupRequest, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly protocolType: string
  readonly protocols: ReadonlyArray<{ readonly name: string; readonly metadata: Uint8Array }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.JoinGroup, v)
  const groupId = r.str(f)
  const sessionTimeoutMs = r.int32()
  const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs
  const memberId = r.str(f)
  const groupInstanceId = v >= 5 ? r.nullableStr(f) : null
  const protocolType = r.str(f)
  const protocols = r.array(f, (r) => {
    const name = r.str(f)
    const metadata = r.byteArray(f).slice()
    endStruct(r, f)
    return { name, metadata }
  })
  endStruct(r, f)
  return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols }
}

export interface Member {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly metadata: Uint8Array
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly generationId: number
  readonly protocolName: string
  readonly leader: string
  readonly memberId: string
  readonly members: ReadonlyArray<Member>
}

export const encodeResponse = body(
  ApiKey.JoinGroup,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 2 }),
    field("errorCode", int16),
    field("generationId", int32),
    field("protocolName", string),
    field("leader", string),
    field("memberId", string),
    field(
      "members",
      array(struct<Member>(field("memberId", string), field("groupInstanceId", nullableString, { since: 5 }), field("metadata", bytes))),
    ),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  groupRequest(ctx, "JoinGroup", req.groupId, (code) =>
    Effect.map(
      code !== ErrorCode.NONE
        ? Effect.succeed({ errorCode: code, generationId: -1, protocolName: "", leader: "", memberId: req.memberId, members: [] })
        : ctx.coordinator.join({ ...req, clientId: h.clientId ?? "", clientHost: ctx.clientHost, apiVersion: h.apiVersion }),
      (res) => reply(h, encodeResponse, { throttleTimeMs: 0, ...res }),
    ),
  )

export const api: Api = define(ApiKey.JoinGroup, decodeRequest, answer)
