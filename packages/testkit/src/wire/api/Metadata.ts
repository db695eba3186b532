/** Metadata (3): brokers, and topics with their partitions' leaders; creates unknown topics when allowed. */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import {
  array,
  bool,
  body,
  constant,
  field,
  int16,
  int32,
  nullableString,
  omittedOperations,
  string,
  struct,
  uuid,
  zeroUuid,
} from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply, validTopicName } from "./Api.js"

export interface Request {
  /** null: every topic. */
  readonly topics: ReadonlyArray<string> | null
  readonly allowAutoTopicCreation: boolean
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.Metadata, v)
  let topics = r.nullableArray(f, (r) => {
    if (v >= 10) r.raw(16) // topic id
    const name = v >= 10 ? r.nullableStr(f) : r.str(f)
    endStruct(r, f)
    return name ?? ""
  })
  // v0 has no null: an empty list means every topic.
  if (v === 0 && topics !== null && topics.length === 0) topics = null
  const allowAutoTopicCreation = v >= 4 ? r.bool() : true
  if (v >= 8 && v <= 10) r.bool() // include cluster authorized operations
  if (v >= 8) r.bool() // include topic authorized operations
  endStruct(r, f)
  return { topics, allowAutoTopicCreation }
}

export interface Broker {
  readonly nodeId: number
  readonly host: string
  readonly port: number
  readonly rack: string | null
}

export interface Partition {
  readonly errorCode: number
  readonly partitionIndex: number
  readonly leaderId: number
  readonly leaderEpoch: number
  readonly replicaNodes: ReadonlyArray<number>
  readonly isrNodes: ReadonlyArray<number>
  readonly offlineReplicas: ReadonlyArray<number>
}

export interface Topic {
  readonly errorCode: number
  readonly name: string
  readonly isInternal: boolean
  readonly partitions: ReadonlyArray<Partition>
}

export interface Response {
  readonly throttleTimeMs: number
  readonly brokers: ReadonlyArray<Broker>
  readonly clusterId: string | null
  readonly controllerId: number
  readonly topics: ReadonlyArray<Topic>
}

export const encodeResponse = body(
  ApiKey.Metadata,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 3 }),
    field(
      "brokers",
      array(
        struct<Broker>(field("nodeId", int32), field("host", string), field("port", int32), field("rack", nullableString, { since: 1 })),
      ),
    ),
    field("clusterId", nullableString, { since: 2 }),
    field("controllerId", int32, { since: 1 }),
    field(
      "topics",
      array(
        struct<Topic>(
          field("errorCode", int16),
          field("name", string),
          constant(uuid, zeroUuid, { since: 10 }),
          field("isInternal", bool, { since: 1 }),
          field(
            "partitions",
            array(
              struct<Partition>(
                field("errorCode", int16),
                field("partitionIndex", int32),
                field("leaderId", int32),
                field("leaderEpoch", int32, { since: 7 }),
                field("replicaNodes", array(int32)),
                field("isrNodes", array(int32)),
                field("offlineReplicas", array(int32), { since: 5 }),
              ),
            ),
          ),
          constant(int32, omittedOperations, { since: 8 }),
        ),
      ),
    ),
    constant(int32, omittedOperations, { since: 8, until: 10 }),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> =>
  ctx.model.serve(
    "Metadata",
    [],
    (sc) =>
      Effect.gen(function* () {
        if (req.topics !== null && req.allowAutoTopicCreation && ctx.autoCreateTopics) {
          const known = new Set((yield* ctx.model.metadata(req.topics)).map((t) => t.name))
          for (const name of req.topics) {
            if (!known.has(name) && validTopicName(name)) {
              yield* Effect.ignore(ctx.model.createTopic(name, ctx.defaultPartitions))
            }
          }
        }
        const found = yield* ctx.model.metadata(req.topics ?? undefined)
        const byName = new Map(found.map((t) => [t.name, t]))
        const names = req.topics ?? found.map((t) => t.name)
        const topics: Array<Topic> = names.map((name) => {
          const t = byName.get(name)
          if (t === undefined) {
            const errorCode = validTopicName(name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION
            return { errorCode, name, isInternal: false, partitions: [] }
          }
          return {
            errorCode: sc.requestCode ?? ErrorCode.NONE,
            name,
            isInternal: false,
            partitions: t.partitions.map((p) => ({
              errorCode: sc.injectedCode(TopicPartition.make(name, p.partition)) ?? ErrorCode.NONE,
              partitionIndex: p.partition,
              leaderId: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicaNodes: p.replicas,
              isrNodes: p.isr,
              offlineReplicas: [],
            })),
          }
        })
        return reply(h, encodeResponse, {
          throttleTimeMs: 0,
          brokers: ctx.model.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
          clusterId: ctx.model.clusterId,
          controllerId: ctx.model.controllerId,
          topics,
        })
      }),
    { brokerId: ctx.nodeId },
  )

export const api: Api = define(ApiKey.Metadata, decodeRequest, answer)
