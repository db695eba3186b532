/**
 * Answers one request frame of the embedded broker: reads the header, refuses versions it does not
 * serve, and hands the body to the API's module (`api/*`: each holds its request decoder, response
 * encoder and answer). The modules map requests onto `BrokerModel` operations, so the request log,
 * latency and injected faults apply over the wire exactly as in memory.
 */
import { Effect } from "effect"
import * as ApiVersions from "./api/ApiVersions.js"
import { type Api, type Context, type Outcome, type RequestFault, reply } from "./api/Api.js"
import * as CreateTopics from "./api/CreateTopics.js"
import * as DeleteRecords from "./api/DeleteRecords.js"
import * as DeleteTopics from "./api/DeleteTopics.js"
import * as DescribeGroups from "./api/DescribeGroups.js"
import * as Fetch from "./api/Fetch.js"
import * as FindCoordinator from "./api/FindCoordinator.js"
import * as Heartbeat from "./api/Heartbeat.js"
import * as InitProducerId from "./api/InitProducerId.js"
import * as JoinGroup from "./api/JoinGroup.js"
import * as LeaveGroup from "./api/LeaveGroup.js"
import * as ListGroups from "./api/ListGroups.js"
import * as ListOffsets from "./api/ListOffsets.js"
import * as Metadata from "./api/Metadata.js"
import * as OffsetCommit from "./api/OffsetCommit.js"
import * as OffsetFetch from "./api/OffsetFetch.js"
import * as Produce from "./api/Produce.js"
import * as SyncGroup from "./api/SyncGroup.js"
import { ApiKey, apiNames, ErrorCode, isSupported, supported } from "./protocol/ApiKeys.js"
import { Malformed, Reader, Truncated } from "./protocol/Codec.js"
import { decodeRequestHeader, type RequestHeader } from "./protocol/Header.js"

export type { Context, Outcome } from "./api/Api.js"

const apis: ReadonlyMap<number, Api> = new Map(
  [
    Produce.api,
    Fetch.api,
    ListOffsets.api,
    Metadata.api,
    OffsetCommit.api,
    OffsetFetch.api,
    FindCoordinator.api,
    JoinGroup.api,
    Heartbeat.api,
    LeaveGroup.api,
    SyncGroup.api,
    DescribeGroups.api,
    ListGroups.api,
    ApiVersions.api,
    CreateTopics.api,
    DeleteTopics.api,
    DeleteRecords.api,
    InitProducerId.api,
  ].map((a) => [a.key, a]),
)

const faultOutcome = (fault: RequestFault): Outcome =>
  fault.reason === "Network" ? { _tag: "Close", reason: `injected ${fault.api} network fault` } : { _tag: "Unanswered" }

/** Answers one request frame (without its size prefix). */
export const handle = (ctx: Context, frame: Uint8Array): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const r = new Reader(frame)
    let header: RequestHeader
    try {
      header = decodeRequestHeader(r)
    } catch (cause) {
      return Effect.succeed<Outcome>({ _tag: "Close", reason: `unreadable request header: ${String(cause)}` })
    }
    const { apiKey, apiVersion: v, correlationId } = header
    const api = apis.get(apiKey)
    if (api === undefined || !isSupported(apiKey, v)) return Effect.succeed(unsupported(header))
    let decoded: Effect.Effect<Outcome, RequestFault>
    try {
      decoded = api.handle(ctx, header, r)
    } catch (cause) {
      if (cause instanceof Truncated || cause instanceof Malformed) {
        return Effect.as(
          Effect.logWarning("Embedded broker: malformed request, closing the connection").pipe(
            Effect.annotateLogs({ apiKey, apiVersion: v, correlationId, error: cause.message }),
          ),
          { _tag: "Close", reason: cause.message } satisfies Outcome,
        )
      }
      throw cause
    }
    return Effect.catchTag(decoded, "RequestFault", (fault) => Effect.succeed(faultOutcome(fault))).pipe(
      Effect.tap(() =>
        Effect.logDebug("request").pipe(
          Effect.annotateLogs({ api: apiNames.get(apiKey) ?? String(apiKey), v, broker: ctx.nodeId, client: header.clientId }),
        ),
      ),
      Effect.withSpan("EmbeddedBroker.request", {
        attributes: { api: apiNames.get(apiKey) ?? String(apiKey), apiVersion: v, broker: ctx.nodeId },
      }),
    )
  })

/**
 * ApiVersions at a version above ours gets the v0 body with the list (clients retry with a version
 * from it); Fetch below v4 gets an empty answer in its own shape; anything else gets the
 * correlation id and UNSUPPORTED_VERSION (Kafka would close the connection).
 */
const unsupported = (h: RequestHeader): Outcome => {
  const errorCode = ErrorCode.UNSUPPORTED_VERSION
  if (h.apiKey === ApiKey.ApiVersions) {
    return reply({ ...h, apiVersion: 0 }, ApiVersions.encodeResponse, { errorCode, apiKeys: ApiVersions.advertised, throttleTimeMs: 0 })
  }
  const range = supported.get(h.apiKey)
  if (range !== undefined && h.apiVersion < range.min && h.apiKey === ApiKey.Fetch) {
    return reply(h, Fetch.encodeResponse, { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] })
  }
  return reply({ ...h, apiVersion: 0 }, (w) => w.int16(errorCode), undefined)
}
