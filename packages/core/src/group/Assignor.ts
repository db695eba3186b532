/**
 * Partition assignors: pure functions the group leader runs over every member's subscription.
 * Their names are the protocol names the coordinator matches across members, so a group can mix
 * clients: "range" and "roundrobin" are Java's and librdkafka's names (librdkafka's default is
 * "range,roundrobin"), "RoundRobinAssigner" is kafkajs's (its only default). The coordinator picks a
 * protocol that every member offers, so offering all three lets this consumer join a group of
 * kafkajs consumers or of librdkafka/Java consumers.
 *
 * @since 0.1.0
 */
import * as TopicPartition from "../TopicPartition.js"
import type { Subscription } from "./MemberProtocol.js"

/**
 * A group member as an assignor sees it: its member id and its subscription.
 *
 * @since 0.1.0
 * @category models
 */
export interface AssignorMember {
  readonly memberId: string
  readonly subscription: Subscription
}

/**
 * A partition assignor: its protocol name and the function the group leader runs to split the
 * subscribed partitions between the members.
 *
 * @since 0.1.0
 * @category models
 */
export interface Assignor {
  /** The protocol name sent in JoinGroup. */
  readonly name: string
  /**
   * "eager" (default): every member gives up all its partitions before rejoining. "cooperative":
   * members keep consuming through the rebalance and give up only what moves (KIP-429). A member
   * rebalances cooperatively only when all its assignors are cooperative.
   */
  readonly rebalanceProtocol?: "eager" | "cooperative"
  /** Every member gets an entry (possibly empty). Partitions of a topic come in ascending order. */
  readonly assign: (
    members: ReadonlyArray<AssignorMember>,
    partitionCounts: ReadonlyMap<string, number>,
  ) => ReadonlyMap<string, ReadonlyArray<TopicPartition.TopicPartition>>
}

const byMemberId = (a: AssignorMember, b: AssignorMember): number =>
  a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0

const emptyResult = (members: ReadonlyArray<AssignorMember>): Map<string, Array<TopicPartition.TopicPartition>> =>
  new Map(members.map((m) => [m.memberId, []]))

const sortedTopics = (members: ReadonlyArray<AssignorMember>, partitionCounts: ReadonlyMap<string, number>) =>
  [...new Set(members.flatMap((m) => m.subscription.topics))].filter((t) => partitionCounts.has(t)).sort()

/**
 * Java's RangeAssignor: per topic, the subscribed members sorted by member id take consecutive
 * ranges; the first `partitions % members` take one more.
 *
 * @since 0.1.0
 * @category assignors
 */
export const range: Assignor = {
  name: "range",
  assign: (members, partitionCounts) => {
    const out = emptyResult(members)
    const sorted = [...members].sort(byMemberId)
    for (const topic of sortedTopics(members, partitionCounts)) {
      const count = partitionCounts.get(topic) ?? 0
      const subscribed = sorted.filter((m) => m.subscription.topics.includes(topic))
      const per = Math.floor(count / subscribed.length)
      const extra = count % subscribed.length
      subscribed.forEach((m, i) => {
        const start = per * i + Math.min(i, extra)
        const length = per + (i < extra ? 1 : 0)
        const list = out.get(m.memberId)
        for (let p = start; p < start + length; p++) list?.push(TopicPartition.make(topic, p))
      })
    }
    return out
  },
}

const roundRobinWith = (name: string): Assignor => ({
  name,
  assign: (members, partitionCounts) => {
    const out = emptyResult(members)
    const sorted = [...members].sort(byMemberId)
    if (sorted.length === 0) return out
    let next = 0
    for (const topic of sortedTopics(members, partitionCounts)) {
      const count = partitionCounts.get(topic) ?? 0
      for (let p = 0; p < count; p++) {
        // The next member in the circle that subscribes to this topic (one exists: the topic came from a subscription).
        for (let tries = 0; tries < sorted.length; tries++) {
          const m = sorted[next % sorted.length]
          next++
          if (m.subscription.topics.includes(topic)) {
            out.get(m.memberId)?.push(TopicPartition.make(topic, p))
            break
          }
        }
      }
    }
    return out
  },
})

/**
 * Java's RoundRobinAssignor: every partition of every subscribed topic (topics sorted, partitions
 * ascending) goes to the next member, in member-id order, that subscribes to its topic.
 *
 * @since 0.1.0
 * @category assignors
 */
export const roundRobin: Assignor = roundRobinWith("roundrobin")

/**
 * kafkajs's default protocol name. kafkajs's own algorithm deals the partitions of the leader's
 * topics round the sorted members; with equal subscriptions this is the same deal as
 * `roundRobin` (topics sorted), and it never gives a member a topic it did not subscribe to.
 *
 * @since 0.1.0
 * @category assignors
 */
export const kafkajsRoundRobin: Assignor = roundRobinWith("RoundRobinAssigner")

/**
 * A cooperative sticky assignor under Java's and librdkafka's protocol name "cooperative-sticky",
 * simplified: balanced per topic (not across topics), sticky (a member keeps what it owned, up to
 * its share), and cooperative (a partition that moves from one member to another is left out of
 * this round: its owner revokes it, rejoins, and the next round gives it to the new member).
 * Owned partitions come from the members' subscriptions (version 1).
 *
 * @since 0.1.0
 * @category assignors
 */
export const cooperativeSticky: Assignor = {
  name: "cooperative-sticky",
  rebalanceProtocol: "cooperative",
  assign: (members, partitionCounts) => {
    const out = emptyResult(members)
    const sorted = [...members].sort(byMemberId)
    for (const topic of sortedTopics(members, partitionCounts)) {
      const count = partitionCounts.get(topic) ?? 0
      const subscribed = sorted.filter((m) => m.subscription.topics.includes(topic))
      // Who owns what now (the first claim wins if two members say they own the same partition).
      const owner = new Map<number, string>()
      const ownedBy = new Map<string, Array<number>>(subscribed.map((m) => [m.memberId, []]))
      for (const m of subscribed) {
        for (const tp of m.subscription.ownedPartitions) {
          if (tp.topic !== topic || tp.partition >= count || owner.has(tp.partition)) continue
          owner.set(tp.partition, m.memberId)
          ownedBy.get(m.memberId)?.push(tp.partition)
        }
      }
      // Shares: the members that own the most get the larger shares, so less has to move.
      const base = Math.floor(count / subscribed.length)
      const extra = count % subscribed.length
      const byOwned = [...subscribed].sort(
        (a, b) => (ownedBy.get(b.memberId)?.length ?? 0) - (ownedBy.get(a.memberId)?.length ?? 0) || byMemberId(a, b),
      )
      const quota = new Map(byOwned.map((m, i) => [m.memberId, base + (i < extra ? 1 : 0)]))
      const target = new Map<string, Array<number>>()
      const taken = new Set<number>()
      for (const m of subscribed) {
        const keep = (ownedBy.get(m.memberId) ?? []).sort((a, b) => a - b).slice(0, quota.get(m.memberId) ?? 0)
        for (const p of keep) taken.add(p)
        target.set(m.memberId, keep)
      }
      const free: Array<number> = []
      for (let p = 0; p < count; p++) if (!taken.has(p)) free.push(p)
      for (const m of subscribed) {
        const list = target.get(m.memberId) ?? []
        while (list.length < (quota.get(m.memberId) ?? 0) && free.length > 0) list.push(free.shift() ?? 0)
      }
      for (const m of subscribed) {
        const list = out.get(m.memberId)
        for (const p of (target.get(m.memberId) ?? []).sort((a, b) => a - b)) {
          // Still owned by someone else: it moves in the next round, after that member revoked it.
          const current = owner.get(p)
          if (current !== undefined && current !== m.memberId) continue
          list?.push(TopicPartition.make(topic, p))
        }
      }
    }
    return out
  },
}

/**
 * Offered in this order: range first (Java's and librdkafka's default), then the round-robins.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: ReadonlyArray<Assignor> = [range, roundRobin, kafkajsRoundRobin]
