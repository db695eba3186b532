/** ListOffsets (2): earliest, latest or by timestamp, per distinct partition. */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import type * as BrokerModel from "../../BrokerModel.js"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { array, body, type Encoder, field, int16, int32, int64, readTopics, struct, topics, when, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly replicaId: number
  readonly isolationLevel: number
  readonly topics: ReadonlyArray<{
    readonly name: string
    readonly partitions: ReadonlyArray<{ readonly partitionIndex: number; readonly timestamp: bigint }>
  }>
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.ListOffsets, v)
  const replicaId = r.int32()
  const isolationLevel = v >= 2 ? r.int8() : 0
  const topics = readTopics(r, f, (r) => {
    const partitionIndex = r.int32()
    if (v >= 4) r.int32() // current leader epoch
    const timestamp = r.int64()
    if (v === 0) r.int32() // max num offsets
    return { partitionIndex, timestamp }
  })
  endStruct(r, f)
  return { replicaId, isolationLevel, topics }
}

export interface ResponsePartition {
  readonly partitionIndex: number
  readonly errorCode: number
  readonly timestamp: bigint
  readonly offset: bigint
  readonly leaderEpoch: number
}

export type ResponseTopic = Topic<"name", ResponsePartition>

export interface Response {
  readonly throttleTimeMs: number
  readonly topics: ReadonlyArray<ResponseTopic>
}

/** v0's list of offsets: the one offset found, or none on an error. */
const oldStyleOffsets: Encoder<ResponsePartition> = (w, at, p) => array(int64)(w, at, p.errorCode === ErrorCode.NONE ? [p.offset] : [])

export const encodeResponse = body(
  ApiKey.ListOffsets,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 2 }),
    field(
      "topics",
      topics(
        "name",
        struct<ResponsePartition>(
          field("partitionIndex", int32),
          field("errorCode", int16),
          when({ until: 0 }, oldStyleOffsets),
          field("timestamp", int64, { since: 1 }),
          field("offset", int64, { since: 1 }),
          field("leaderEpoch", int32, { since: 4 }),
        ),
      ),
    ),
  ),
)

const specOf = (timestamp: bigint): BrokerModel.ListOffsetsSpec =>
  timestamp === -2n ? "earliest" : timestamp === -1n ? "latest" : { timestamp: Number(timestamp) }

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  // As Kafka: one answer per distinct partition, topics merged by name; a partition named more than
  // once in the request is answered INVALID_REQUEST (once), without looking it up.
  const topics = new Map<string, Map<number, { timestamp: bigint; duplicate: boolean }>>()
  for (const t of req.topics) {
    const partitions = topics.get(t.name) ?? new Map<number, { timestamp: bigint; duplicate: boolean }>()
    topics.set(t.name, partitions)
    for (const p of t.partitions) {
      const seen = partitions.get(p.partitionIndex)
      partitions.set(p.partitionIndex, { timestamp: p.timestamp, duplicate: seen !== undefined })
    }
  }
  // One model request per distinct timestamp (clients send one kind at a time).
  const groups = new Map<bigint, Array<TopicPartition.TopicPartition>>()
  for (const [name, partitions] of topics) {
    for (const [partition, p] of partitions) {
      if (p.duplicate) continue
      const list = groups.get(p.timestamp) ?? []
      list.push(TopicPartition.make(name, partition))
      groups.set(p.timestamp, list)
    }
  }
  return Effect.map(
    Effect.forEach(Array.from(groups), ([timestamp, tps]) =>
      Effect.map(ctx.model.listOffsets(tps, specOf(timestamp), { brokerId: ctx.nodeId }), (results) =>
        results.map((res): [string, BrokerModel.ListOffsetsPartitionResult] => [TopicPartition.key(res), res]),
      ),
    ),
    (all) => {
      const byKey = new Map(all.flat())
      const answered = Array.from(topics, ([name, partitions]) => ({
        name,
        partitions: Array.from(partitions, ([partitionIndex, p]) => {
          const res = p.duplicate ? undefined : byKey.get(TopicPartition.key(TopicPartition.make(name, partitionIndex)))
          return {
            partitionIndex,
            errorCode: p.duplicate ? ErrorCode.INVALID_REQUEST : (res?.code ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            timestamp: BigInt(res?.timestamp ?? -1),
            offset: res?.offset ?? -1n,
            leaderEpoch: res?.leaderEpoch ?? -1,
          }
        }),
      }))
      return reply(h, encodeResponse, { throttleTimeMs: 0, topics: answered })
    },
  )
}

export const api: Api = define(ApiKey.ListOffsets, decodeRequest, answer)
