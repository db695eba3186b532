/** OffsetFetch (9): a group's committed offsets, for the partitions asked or all it has. */
import { TopicPartition, ErrorCode } from "@kafka-effect/core"
import { Effect } from "effect"
import { ApiKey, isFlexible } from "../protocol/ApiKeys.js"
import type { Reader } from "../protocol/Codec.js"
import { body, field, int16, int32, int64, nullableString, readTopicIndexes, struct, topics, type Topic } from "../protocol/Fields.js"
import { endStruct, type RequestHeader } from "../protocol/Header.js"
import { type Api, type Context, coordinates, define, type Outcome, type RequestFault, reply } from "./Api.js"

export interface Request {
  readonly groupId: string
  /** null: every partition the group has committed. */
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<number> }> | null
}

export const decodeRequest = (r: Reader, v: number): Request => {
  const f = isFlexible(ApiKey.OffsetFetch, v)
  const groupId = r.str(f)
  const topics = r.nullableArray(f, readTopicIndexes(f))
  if (v >= 7) r.bool() // require stable
  endStruct(r, f)
  return { groupId, topics }
}

export interface PartitionResponse {
  readonly partitionIndex: number
  readonly committedOffset: bigint
  readonly committedLeaderEpoch: number
  readonly metadata: string | null
  readonly errorCode: number
}

export type TopicResponse = Topic<"name", PartitionResponse>

export interface Response {
  readonly throttleTimeMs: number
  readonly errorCode: number
  readonly topics: ReadonlyArray<TopicResponse>
}

export const encodeResponse = body(
  ApiKey.OffsetFetch,
  struct<Response>(
    field("throttleTimeMs", int32, { since: 3 }),
    field(
      "topics",
      topics(
        "name",
        struct<PartitionResponse>(
          field("partitionIndex", int32),
          field("committedOffset", int64),
          field("committedLeaderEpoch", int32, { since: 5 }),
          field("metadata", nullableString),
          field("errorCode", int16),
        ),
      ),
    ),
    field("errorCode", int16, { since: 2 }),
  ),
)

const answer = (ctx: Context, h: RequestHeader, req: Request): Effect.Effect<Outcome, RequestFault> => {
  const requested = req.topics?.flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p)))
  return ctx.model.serve(
    "OffsetFetch",
    requested ?? [],
    (sc) =>
      Effect.gen(function* () {
        const groupCode =
          sc.requestCode ?? (coordinates(ctx, req.groupId) ? ErrorCode.NONE : ErrorCode.NOT_COORDINATOR)
        const all =
          requested ??
          (yield* ctx.model.metadata()).flatMap((t) => t.partitions.map((p) => TopicPartition.make(t.name, p.partition)))
        const committed = groupCode === ErrorCode.NONE ? yield* ctx.model.committedOffsets(req.groupId, all) : []
        const listed = requested === undefined ? committed.filter((c) => c.offset >= 0n) : committed
        const byTopic = new Map<string, Array<PartitionResponse>>()
        for (const c of listed) {
          const list = byTopic.get(c.topic) ?? []
          list.push({
            partitionIndex: c.partition,
            committedOffset: c.offset,
            committedLeaderEpoch: -1,
            metadata: c.metadata ?? "",
            errorCode: sc.injectedCode(c) ?? ErrorCode.NONE,
          })
          byTopic.set(c.topic, list)
        }
        // v0/v1 have no top-level error code: a group error goes into every partition.
        if (groupCode !== ErrorCode.NONE && requested !== undefined) {
          for (const tp of requested) {
            const list = byTopic.get(tp.topic) ?? []
            list.push({ partitionIndex: tp.partition, committedOffset: -1n, committedLeaderEpoch: -1, metadata: "", errorCode: groupCode })
            byTopic.set(tp.topic, list)
          }
        }
        const topics = Array.from(byTopic, ([name, partitions]) => ({ name, partitions }))
        return reply(h, encodeResponse, { throttleTimeMs: 0, errorCode: groupCode, topics })
      }),
    { brokerId: ctx.nodeId },
  )
}

export const api: Api = define(ApiKey.OffsetFetch, decodeRequest, answer)
