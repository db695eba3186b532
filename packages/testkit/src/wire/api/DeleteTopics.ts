/** DeleteTopics (20): topics removed from the model. */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, int32, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly topicNames: ReadonlyArray<string>
  readonly timeoutMs: number
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.DeleteTopics, v)
  const topicNames = r.array(f, (r) => r.str(f))
  const timeoutMs = r.int32()
  endStruct(r, f)
  return { topicNames, timeoutMs }
}

export interface TopicResponse {
  readonly name: string
  readonly errorCode: number
}

export interface Response {
  readonly throttleTimeMs: number
  readonly responses: ReadonlyArray<TopicResponse>
}

export const encodeResponse = body(
  ApiKey.DeleteTopics,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 1 }),
    field("responses", array(struct<TopicResponse>(field("name", string), field("errorCode", int16)))),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "DeleteTopics",
    [],
    (sc) =>
      Effect.map(
        Effect.forEach(req.topicNames, (name) =>
          sc.requestCode !== undefined
            ? Effect.succeed({ name, errorCode: sc.requestCode })
            : ctx.model.deleteTopic(name).pipe(
                Effect.as({ name, errorCode: ErrorCode.NONE }),
                Effect.catchTag("BrokerModelError", (e) => Effect.succeed({ name, errorCode: e.code })),
              ),
        ),
        (responses) => reply(h, encodeResponse, { throttleTimeMs: 0, responses }),
      ),
    { brokerId: ctx.nodeId },
  )

export const api: Api = define(ApiKey.DeleteTopics, decodeRequest, answer)
