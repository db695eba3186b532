/** CreateTopics (19): topics created in the model (validateOnly checks only). */
import { ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, field, int16, int32, nullableString, string, struct } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply, validTopicName } from "./Api.js"

export interface Request {
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly numPartitions: number
    readonly replicationFactor: number
    readonly assignments: ReadonlyArray<{ readonly partitionIndex: number; readonly brokerIds: ReadonlyArray<number> }>
    readonly configs: ReadonlyArray<{ readonly name: string; readonly value: string | null }>
  }>
  readonly timeoutMs: number
  readonly validateOnly: boolean
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.CreateTopics, v)
  const topics = r.array(f, (r) => {
    const name = r.str(f)
    const numPartitions = r.int32()
    const replicationFactor = r.int16()
    const assignments = r.array(f, (r) => {
      const partitionIndex = r.int32()
      const brokerIds = r.array(f, (r) => r.int32())
      endStruct(r, f)
      return { partitionIndex, brokerIds }
    })
    const configs = r.array(f, (r) => {
      const name = r.str(f)
      const value = r.nullableStr(f)
      endStruct(r, f)
      return { name, value }
    })
    endStruct(r, f)
    return { name, numPartitions, replicationFactor, assignments, configs }
  })
  const timeoutMs = r.int32()
  const validateOnly = v >= 1 ? r.bool() : false
  endStruct(r, f)
  return { topics, timeoutMs, validateOnly }
}

export interface TopicResponse {
  readonly name: string
  readonly errorCode: number
  readonly errorMessage: string | null
}

export interface Response {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<TopicResponse>
}

export const encodeResponse = body(
  ApiKey.CreateTopics,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 2 }),
    field(
      "topics",
      array(struct<TopicResponse>(field("name", string), field("errorCode", int16), field("errorMessage", nullableString, { since: 1 }))),
    ),
  ),
)

/** Kafka's cap on the partitions one CreateTopics may create, over all its topics (the controller's MAX_PARTITIONS_PER_BATCH). */
export const MAX_PARTITIONS_PER_REQUEST = 10_000

/** The partitions a request asks for, counted as Kafka does: assignments, else the count (-1: the default), invalid counts as 0. */
const requestedPartitions = (req: Request, defaultPartitions: number): number =>
  req.topics.reduce(
    (sum, t) =>
      sum + (t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? defaultPartitions : Math.max(0, t.numPartitions)),
    0,
  )

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "CreateTopics",
    [],
    (sc) => {
      // Too many partitions in one request: every topic refused, nothing created (as Kafka, before any other check).
      if (sc.requestCode === undefined && requestedPartitions(req, ctx.defaultPartitions) > MAX_PARTITIONS_PER_REQUEST) {
        const errorMessage = "Excessively large number of partitions per request."
        const topics = req.topics.map((t) => ({ name: t.name, errorCode: ErrorCode.POLICY_VIOLATION, errorMessage }))
        return Effect.succeed(reply(h, encodeResponse, { throttleTimeMs: 0, topics }))
      }
      return Effect.map(
        Effect.forEach(req.topics, (t) => {
          const result = (errorCode: number, errorMessage: string | null) => Effect.succeed({ name: t.name, errorCode, errorMessage })
          if (sc.requestCode !== undefined) return result(sc.requestCode, null)
          if (!validTopicName(t.name)) return result(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${t.name}`)
          if (t.assignments.length === 0 && (t.numPartitions === 0 || t.numPartitions < -1)) {
            return result(ErrorCode.INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.")
          }
          if (t.assignments.length === 0 && (t.replicationFactor === 0 || t.replicationFactor < -1)) {
            return result(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0, or -1 to use the default value.")
          }
          if (t.replicationFactor > ctx.model.brokers.length) {
            return result(
              ErrorCode.INVALID_REPLICATION_FACTOR,
              `Replication factor: ${t.replicationFactor} larger than available brokers: ${ctx.model.brokers.length}.`,
            )
          }
          const partitions =
            t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.defaultPartitions : t.numPartitions
          const create = req.validateOnly
            ? Effect.flatMap(ctx.model.metadata([t.name]), (found) =>
                found.length > 0 ? result(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`) : result(0, null),
              )
            : ctx.model.createTopic(t.name, partitions).pipe(
                Effect.as({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null }),
                Effect.catchTag("BrokerModelError", (e) => result(e.code, e.detail)),
              )
          return create
        }),
        (topics) => reply(h, encodeResponse, { throttleTimeMs: 0, topics }),
      )
    },
    { brokerId: ctx.nodeId },
  )

export const api: Api = define(ApiKey.CreateTopics, decodeRequest, answer)
