/**
 * SaslHandshake (17): the client names its mechanism. v1 goes on with SaslAuthenticate requests,
 * v0 with bare size-prefixed tokens. An unknown mechanism is refused with the list and the
 * connection closes; without SASL on the listener, or once authenticated, ILLEGAL_SASL_STATE (as Kafka).
 */
import { ErrorCode } from "@kafka-effect/core"
import { Effect, Ref } from "effect"
import * as Sasl from "../Sasl.js"
import { ApiKey } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, string, struct } from "../protocol/Fields.js"
import type { RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, frame, type Outcome, reply } from "./Api.js"

export interface Request {
  readonly mechanism: string
}

export const decodeRequest = (r: Reader): Request => ({ mechanism: r.string() })

export interface Response {
  readonly errorCode: number
  readonly mechanisms: ReadonlyArray<string>
}

export const encodeResponse = body(ApiKey.SaslHandshake, struct<Response>(field("errorCode", int16), field("mechanisms", array(string))))

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const state = yield* Ref.get(ctx.session)
    const offered = ctx.sasl?.mechanisms ?? []
    if (ctx.sasl === undefined || state._tag !== "Unauthenticated") {
      return reply(h, encodeResponse, { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: offered })
    }
    const mechanism = req.mechanism
    if (!Sasl.isMechanism(mechanism) || !offered.includes(mechanism)) {
      return {
        _tag: "ReplyAndClose",
        frame: frame(h, encodeResponse, { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: offered }),
        reason: `unsupported SASL mechanism ${mechanism}`,
      }
    }
    yield* Ref.set(ctx.session, {
      _tag: "Authenticating",
      exchange: ctx.sasl.start(mechanism),
      framing: h.apiVersion >= 1 ? "SaslAuthenticate" : "Raw",
    })
    return reply(h, encodeResponse, { errorCode: ErrorCode.NONE, mechanisms: offered })
  })

export const api: Api = define(ApiKey.SaslHandshake, decodeRequest, (ctx, h, req) =>
  ctx.model.serve("SaslHandshake", [], () => answer(ctx, h, req), { brokerId: ctx.nodeId }),
)
