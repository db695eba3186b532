/**
 * The ListOffsets port: the earliest (log start) or latest (high watermark) offset of many
 * partitions at once. An implementation sends one request per partition leader.
 */
import { Context, type Effect } from "effect"
import type { ListOffsetsFailure } from "./KafkaError.js"
import type { ListOffsetsSpec } from "./OffsetSpec.js"
import type { TopicPartition } from "./TopicPartition.js"

export interface PartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

export class OffsetLister extends Context.Tag("@kafka-effect/core/OffsetLister")<
  OffsetLister,
  {
    /** One entry per requested partition, in request order. */
    readonly list: (
      partitions: ReadonlyArray<TopicPartition>,
      spec: ListOffsetsSpec,
    ) => Effect.Effect<ReadonlyArray<PartitionOffset>, ListOffsetsFailure>
  }
>() {}
