/**
 * Answers one request frame of the embedded broker: reads the header, refuses versions it does not
 * serve, and hands the body to the API's module (`api/*`: each holds its request decoder, response
 * encoder and answer). The modules map requests onto `BrokerModel` operations, so the request log,
 * latency and injected faults apply over the wire exactly as in memory.
 */
import { ErrorCode } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
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
import * as SaslAuthenticate from "./api/SaslAuthenticate.js"
import * as SaslHandshake from "./api/SaslHandshake.js"
import * as SyncGroup from "./api/SyncGroup.js"
import { ApiKey, apiNames, isSupported, supported } from "./protocol/ApiKeys.js"
import { Malformed, Reader, Truncated } from "./protocol/Codec.js"
import { decodeRequestHeader, type RequestHeader } from "./protocol/Header.js"
import type * as Sasl from "./Sasl.js"

export type { Context, ListenerContext, Outcome } from "./api/Api.js"

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
    SaslHandshake.api,
    SaslAuthenticate.api,
  ].map((a) => [a.key, a]),
)

const faultOutcome = (fault: RequestFault): Outcome =>
  fault.reason === "Network" ? { _tag: "Close", reason: `injected ${fault.api} network fault` } : { _tag: "Unanswered" }

/** Answers one request frame (without its size prefix). */
export const handle = (ctx: Context, frame: Uint8Array): Effect.Effect<Outcome> =>
  Effect.flatMap(Ref.get(ctx.session), (state) =>
    state._tag === "Authenticating" && state.framing === "Raw" ? rawToken(ctx, state.exchange, frame) : request(ctx, state, frame),
  )

/** After SaslHandshake v0 a frame is a bare SASL token, answered by one; a failure closes the connection (as Kafka). */
const rawToken = (ctx: Context, exchange: Sasl.Exchange, token: Uint8Array): Effect.Effect<Outcome> =>
  Effect.map(SaslAuthenticate.advance(ctx.session, exchange, token), (step): Outcome => {
    if (step._tag === "Failed") return { _tag: "Close", reason: "SASL authentication failed" }
    const size = new Uint8Array(4)
    new DataView(size.buffer).setInt32(0, step.token.byteLength)
    return { _tag: "Reply", frame: [size, step.token] }
  })

/**
 * Before authentication a connection may send ApiVersions (once) and SaslHandshake, then only
 * SaslAuthenticate; anything else closes it, as Kafka's SaslServerAuthenticator does.
 */
const admitted = (state: Sasl.State, apiKey: number): boolean => {
  switch (state._tag) {
    case "Authenticated":
      return true
    case "Unauthenticated":
      return apiKey === ApiKey.SaslHandshake || (apiKey === ApiKey.ApiVersions && !state.versionsAnswered)
    case "Authenticating":
      return apiKey === ApiKey.SaslAuthenticate
  }
}

const request = (ctx: Context, state: Sasl.State, frame: Uint8Array): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const r = new Reader(frame)
    let header: RequestHeader
    try {
      header = decodeRequestHeader(r)
    } catch (cause) {
      return Effect.succeed<Outcome>({ _tag: "Close", reason: `unreadable request header: ${String(cause)}` })
    }
    const { apiKey, apiVersion: v, correlationId } = header
    if (!admitted(state, apiKey)) {
      return Effect.as(
        Effect.logInfo("Embedded broker: request before SASL authentication, closing the connection").pipe(
          Effect.annotateLogs({ api: apiNames.get(apiKey) ?? String(apiKey), state: state._tag }),
        ),
        { _tag: "Close", reason: `${apiNames.get(apiKey) ?? apiKey} before SASL authentication` } satisfies Outcome,
      )
    }
    // The one ApiVersions a connection gets answered before its handshake (an unsupported version may be retried).
    const before =
      state._tag === "Unauthenticated" && apiKey === ApiKey.ApiVersions && isSupported(apiKey, v)
        ? Ref.set(ctx.session, { _tag: "Unauthenticated", versionsAnswered: true })
        : Effect.void
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
    return Effect.zipRight(before, Effect.catchTag(decoded, "RequestFault", (fault) => Effect.succeed(faultOutcome(fault)))).pipe(
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
