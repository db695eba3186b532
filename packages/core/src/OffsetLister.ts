/**
 * The ListOffsets port: the earliest (log start) or latest (high watermark) offset of many
 * partitions at once. An implementation sends one request per partition leader.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { ListOffsetsFailure } from "./KafkaError.js"
import type { ListOffsetsSpec } from "./OffsetSpec.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * The offset ListOffsets answered for one partition.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
}

/**
 * The port that lists offsets (Kafka's ListOffsets): the log start (earliest) or the high watermark
 * (latest) of each partition asked for. Offset recovery uses it to find where to reset.
 *
 * @since 0.1.0
 * @category services
 */
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
