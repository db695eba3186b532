/** ApiVersions (18): the versions this broker serves. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible, supported } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, int32, struct } from "../protocol/Fields.js"
import { type Api, reply } from "./Api.js"

export interface Request {
  readonly clientSoftwareName: string | null
  readonly clientSoftwareVersion: string | null
}

export const decodeRequest = (r: Reader, v: number): Request => {
  if (!isFlexible(ApiKey.ApiVersions, v)) return { clientSoftwareName: null, clientSoftwareVersion: null }
  const clientSoftwareName = r.compactString()
  const clientSoftwareVersion = r.compactString()
  r.taggedFields()
  return { clientSoftwareName, clientSoftwareVersion }
}

export interface Response {
  readonly errorCode: number
  readonly apiKeys: ReadonlyArray<{ readonly apiKey: number; readonly minVersion: number; readonly maxVersion: number }>
  readonly throttleTimeMs: number
}

export const encodeResponse = body(
  ApiKey.ApiVersions,
  struct<Response>(
    field("errorCode", int16),
    field(
      "apiKeys",
      array(struct<Response["apiKeys"][number]>(field("apiKey", int16), field("minVersion", int16), field("maxVersion", int16))),
    ),
    field("throttleTimeMs", int32, { since: 1 }),
  ),
)

/** What ApiVersions advertises. */
export const advertised: Response["apiKeys"] = Array.from(supported, ([apiKey, r]) => ({ apiKey, minVersion: r.min, maxVersion: r.max }))

export const api: Api = {
  key: ApiKey.ApiVersions,
  handle: (ctx, h, r) => {
    decodeRequest(r, h.apiVersion)
    return Effect.map(ctx.model.serve("ApiVersions", [], () => Effect.void, { brokerId: ctx.nodeId }), () =>
      reply(h, encodeResponse, { errorCode: ErrorCode.NONE, apiKeys: advertised, throttleTimeMs: 0 }),
    )
  },
}
