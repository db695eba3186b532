/**
 * A partition of a topic: the unit of assignment, position and leadership.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A partition of a topic.
 *
 * @since 0.1.0
 * @category models
 */
export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/**
 * A `TopicPartition` from its topic and partition number.
 *
 * @example
 * import { TopicPartition } from "@kafka-effect/core"
 *
 * const tp = TopicPartition.make("orders", 3)
 * assert.deepStrictEqual(TopicPartition.fromKey(TopicPartition.key(tp)), tp)
 * assert.ok(TopicPartition.equals(tp, TopicPartition.make("orders", 3)))
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (topic: string, partition: number): TopicPartition => ({ topic, partition })

/**
 * A string key, for `Map`s on the hot path (object keys compare by identity).
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`

/**
 * The `TopicPartition` a `key` string was made from.
 *
 * @since 0.1.0
 * @category keys
 */
export const fromKey = (k: string): TopicPartition => {
  const i = k.lastIndexOf("\u0000")
  return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)) }
}

/**
 * Whether two values name the same partition.
 *
 * @since 0.1.0
 * @category instances
 */
export const equals = (a: TopicPartition, b: TopicPartition): boolean =>
  a.topic === b.topic && a.partition === b.partition

/**
 * `topic-partition`, as Kafka's tools print it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`

/**
 * Orders by topic, then partition number (a comparator for `Array.prototype.sort`).
 *
 * @since 0.1.0
 * @category instances
 */
export const Order = (a: TopicPartition, b: TopicPartition): number =>
  a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition

/**
 * A `Schema` of `TopicPartition`: a non-empty topic and a non-negative integer partition.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TopicPartitionSchema = Schema.Struct({
  topic: Schema.NonEmptyString,
  partition: Schema.Int.pipe(Schema.nonNegative()),
})

/**
 * Groups partitions by topic, keeping the order of first appearance.
 *
 * @since 0.1.0
 * @category utils
 */
export const groupByTopic = (
  partitions: Iterable<TopicPartition>,
): Map<string, Array<number>> => {
  const out = new Map<string, Array<number>>()
  for (const tp of partitions) {
    const list = out.get(tp.topic)
    if (list) list.push(tp.partition)
    else out.set(tp.topic, [tp.partition])
  }
  return out
}
