/** ListGroups (16): the groups this broker coordinates. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey } from "../protocol/ApiKeys.js"
import { array, body, field, int16, int32, string, struct } from "../protocol/Fields.js"
import { type Api, coordinates, reply } from "./Api.js"

export interface ListedGroup {
  readonly groupId: string
  readonly protocolType: string
}

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly groups: ReadonlyArray<ListedGroup>
}

export const encodeResponse = body(
  ApiKey.ListGroups,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field("errorCode", int16),
    field("groups", array(struct<ListedGroup>(field("groupId", string), field("protocolType", string)))),
  ),
)

/** The request of the versions served (0-2) has no fields. */
export const api: Api = {
  key: ApiKey.ListGroups,
  handle: (ctx, h) =>
    Effect.map(ctx.coordinator.list, (all) =>
      reply(h, encodeResponse, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: all.filter((g) => coordinates(ctx, g.groupId)) }),
    ),
}
