/**
 * `@kafka-effect/core`: the Effect-native Kafka consumer (domain types, tagged errors, the ports a
 * live client implements, the fetch loop, offset recovery, seeking, consumer groups). Each module is
 * also its own entry point, e.g. `@kafka-effect/core/Consumer`.
 *
 * @since 0.1.0
 */

/**
 * A record as the consumer delivers it.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ConsumerRecord from "./ConsumerRecord.js"
/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 (magic 2).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Crc32c from "./Crc32c.js"
/**
 * Kafka's protocol error codes, each defined once.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ErrorCode from "./ErrorCode.js"
/**
 * The Fetch port.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Fetcher from "./Fetcher.js"
/**
 * Tagged errors.
 *
 * @since 0.1.0
 * @category modules
 */
export * as KafkaError from "./KafkaError.js"
/**
 * The ListOffsets port.
 *
 * @since 0.1.0
 * @category modules
 */
export * as OffsetLister from "./OffsetLister.js"
/**
 * Where to start or move a position.
 *
 * @since 0.1.0
 * @category modules
 */
export * as OffsetSpec from "./OffsetSpec.js"
/**
 * Keys and values decoded with `Schema`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as RecordSchema from "./RecordSchema.js"
/**
 * A partition of a topic.
 *
 * @since 0.1.0
 * @category modules
 */
export * as TopicPartition from "./TopicPartition.js"
/**
 * Tracing across Kafka.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Tracing from "./Tracing.js"
/**
 * The consumer-group modules (`Assignor`, `GroupConfig`, `GroupConsumer`, `GroupCoordinator`,
 * `GroupError`, `GroupMembership`, `MemberProtocol`), re-exported at the top level.
 *
 * @since 0.1.0
 * @category modules
 */
export * from "./group/index.js"
/**
 * The consumer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Consumer from "./Consumer.js"
/**
 * Consumer settings, validated with `Schema`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ConsumerConfig from "./ConsumerConfig.js"
/**
 * What a consumer tells its users besides records.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ConsumerEvent from "./ConsumerEvent.js"
/**
 * The consumer's metrics.
 *
 * @since 0.1.0
 * @category modules
 */
export * as ConsumerMetrics from "./ConsumerMetrics.js"
/**
 * Healing an `OffsetOutOfRange` fetch answer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as OffsetRecovery from "./OffsetRecovery.js"
/**
 * The vocabulary every settings schema shares (the consumer's, the client's, the group's).
 *
 * @since 0.1.0
 * @category modules
 */
export * as Settings from "./Settings.js"
/**
 * What a consumer knows about its partitions.
 *
 * @since 0.1.0
 * @category modules
 */
export * as SubscriptionState from "./SubscriptionState.js"
