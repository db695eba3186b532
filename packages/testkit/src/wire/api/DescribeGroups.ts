/** DescribeGroups (15): state, protocol and members of the groups this broker coordinates. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, bytes, constant, field, int16, int32, nullableString, omittedOperations, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, coordinates, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groups: ReadonlyArray<string>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.DescribeGroups, v)
  const groups = r.array(f, (r) => r.str(f))
  if (v >= 3) r.bool() // include authorized operations
  endStruct(r, f)
  return { groups }
}

export interface Member {
  readonly memberId: string
  readonly groupInstanceId: string | null
  readonly clientId: string
  readonly clientHost: string
  readonly memberMetadata: Uint8Array
  readonly memberAssignment: Uint8Array
}

export interface DescribedGroup {
  readonly errorCode: number
  readonly groupId: string
  readonly groupState: string
  readonly protocolType: string
  readonly protocolData: string
  readonly members: ReadonlyArray<Member>
}

export interface Response {
  readonly throttleTimeMs: number
  readonly groups: ReadonlyArray<DescribedGroup>
}

export const encodeResponse = body(
  ApiKey.DescribeGroups,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field(
      "groups",
      array(
        struct<DescribedGroup>(
          field("errorCode", int16),
          field("groupId", string),
          field("groupState", string),
          field("protocolType", string),
          field("protocolData", string),
          field(
            "members",
            array(
              struct<Member>(
                field("memberId", string),
                field("groupInstanceId", nullableString, { since: 4 }),
                field("clientId", string),
                field("clientHost", string),
                field("memberMetadata", bytes),
                field("memberAssignment", bytes),
              ),
            ),
          ),
          constant(int32, omittedOperations, { since: 3 }),
        ),
      ),
    ),
  ),
)

const describe = (ctx: Context, groupId: string): Effect.Effect<DescribedGroup> =>
  Effect.map(ctx.coordinator.describe(groupId), (d): DescribedGroup => {
    if (!coordinates(ctx, groupId)) {
      return { errorCode: ErrorCode.NOT_COORDINATOR, groupId, groupState: "", protocolType: "", protocolData: "", members: [] }
    }
    if (d === undefined) return { errorCode: ErrorCode.NONE, groupId, groupState: "Dead", protocolType: "", protocolData: "", members: [] }
    // As Kafka: the protocol and the members' metadata and assignments only while Stable.
    const stable = d.state === "Stable"
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: d.state,
      protocolType: d.protocolType,
      protocolData: stable ? d.protocolName : "",
      members: d.members.map((m) => ({
        ...m,
        memberMetadata: stable ? m.metadata : new Uint8Array(0),
        memberAssignment: stable ? m.assignment : new Uint8Array(0),
      })),
    }
  })

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  Effect.map(
    Effect.forEach(req.groups, (groupId) => describe(ctx, groupId)),
    (groups) => reply(h, encodeResponse, { throttleTimeMs: 0, groups }),
  )

export const api: Api = define(ApiKey.DescribeGroups, decodeRequest, answer)
