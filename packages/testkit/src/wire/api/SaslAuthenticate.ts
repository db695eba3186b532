/**
 * SaslAuthenticate (36): one token of the exchange SaslHandshake v1 started. Wrong credentials are
 * answered SASL_AUTHENTICATION_FAILED with Kafka's message, then the connection closes.
 */
import { ErrorCode } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import type * as Sasl from "../Sasl.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, bytes, field, int16, int64, nullableString, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, frame, type Outcome, reply } from "./Api.js"

export interface Request {
  readonly authBytes: Uint8Array
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.SaslAuthenticate, v)
  const authBytes = r.byteArray(f).slice()
  endStruct(r, f)
  return { authBytes }
}

export interface Response {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly authBytes: Uint8Array
  readonly sessionLifetimeMs: bigint
}

export const encodeResponse = body(
  ApiKey.SaslAuthenticate,
  struct<Response>(
    field("errorCode", int16),
    field("errorMessage", nullableString),
    field("authBytes", bytes),
    field("sessionLifetimeMs", int64, { since: 1 }),
  ),
)

/** The state after `step`, and what the client is told. */
export const advance = (
  session: Ref.Ref<Sasl.State>,
  exchange: Sasl.Exchange,
  token: Uint8Array,
): Effect.Effect<Sasl.Step> =>
  Effect.gen(function* () {
    const step = exchange.step(token)
    if (step._tag === "Authenticated") yield* Ref.set(session, { _tag: "Authenticated", principal: step.principal })
    if (step._tag === "Failed") {
      yield* Effect.logInfo("Embedded broker: SASL authentication failed, closing the connection").pipe(
        Effect.annotateLogs({ mechanism: exchange.mechanism, error: step.message }),
      )
    }
    return step
  })

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const state = yield* Ref.get(ctx.session)
    if (state._tag !== "Authenticating" || state.framing !== "SaslAuthenticate") {
      return reply(h, encodeResponse, {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: "SaslAuthenticate without a SaslHandshake v1 before it",
        authBytes: new Uint8Array(0),
        sessionLifetimeMs: 0n,
      })
    }
    const step = yield* advance(ctx.session, state.exchange, req.authBytes)
    if (step._tag === "Failed") {
      return {
        _tag: "ReplyAndClose",
        frame: frame(h, encodeResponse, {
          errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
          errorMessage: step.message,
          authBytes: new Uint8Array(0),
          sessionLifetimeMs: 0n,
        }),
        reason: "SASL authentication failed",
      }
    }
    // Session lifetime 0: no re-authentication (Kafka's connections.max.reauth.ms default).
    return reply(h, encodeResponse, { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.token, sessionLifetimeMs: 0n })
  })

export const api: Api = define(ApiKey.SaslAuthenticate, decodeRequest, (ctx, h, req) =>
  ctx.model.serve("SaslAuthenticate", [], () => answer(ctx, h, req), { brokerId: ctx.nodeId }),
)
