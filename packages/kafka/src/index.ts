/**
 * `@kafka-effect/kafka`: the live layers over a real Kafka cluster through kafkajs's protocol layer
 * (`KafkaClient` for the consumer's ports, `GroupCoordinatorLive` for consumer groups) and the
 * `Producer` service. `@kafka-effect/kafka/Testing` runs the same layers over the testkit's embedded broker.
 *
 * @since 0.1.0
 */

/**
 * The live layer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as KafkaClient from "./KafkaClient.js"
/**
 * core's `GroupCoordinator` and `TopicMetadata` ports over a real cluster, through kafkajs's broker requests (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit, Metadata).
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupCoordinatorLive from "./group/GroupCoordinatorLive.js"
/**
 * The Producer.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Producer from "./Producer.js"
