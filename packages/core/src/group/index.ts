/**
 * Consumer groups: membership (join, sync, heartbeat, leave), assignors, committed offsets and the
 * group consumer over them.
 *
 * @since 0.1.0
 */

/**
 * Partition assignors.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Assignor from "./Assignor.js"
/**
 * The group settings (`GroupMembership.GroupOptions`) checked with the same vocabulary as the consumer's.
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupConfig from "./GroupConfig.js"
/**
 * `subscribe(topics)`.
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupConsumer from "./GroupConsumer.js"
/**
 * The group coordinator port.
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupCoordinator from "./GroupCoordinator.js"
/**
 * Tagged errors of the consumer-group protocol (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit).
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupError from "./GroupError.js"
/**
 * Consumer-group membership, in Effect.
 *
 * @since 0.1.0
 * @category modules
 */
export * as GroupMembership from "./GroupMembership.js"
/**
 * The bytes a consumer puts in JoinGroup (its subscription) and the leader puts in SyncGroup (each member's assignment).
 *
 * @since 0.1.0
 * @category modules
 */
export * as MemberProtocol from "./MemberProtocol.js"
