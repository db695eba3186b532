/**
 * Properties (FastCheck, from effect) of the logic whose cases are too many to list by hand:
 * the recovery step's clamp and policies over any range and requested offset, and the assignors
 * over any group (every partition once, only to a subscriber, balanced; cooperative-sticky also
 * sticky and never handing out a partition another member still owns).
 */
import { describe, expect, it } from "@effect/vitest"
import { Assignor, KafkaError, MemberProtocol, OffsetLister, OffsetRecovery, TopicPartition } from "@kafka-effect/core"
import { Effect, FastCheck as fc, Layer } from "effect"

// ---------------------------------------------------------------------------------------------
// recovery

/** A lister that answers `earliest`/`latest` for every partition. */
const lister = (earliest: bigint, latest: bigint) =>
  Layer.succeed(OffsetLister.OffsetLister, {
    list: (partitions, spec) =>
      Effect.succeed(partitions.map((tp) => ({ ...tp, offset: spec === "earliest" ? earliest : latest }))),
  })

const arbitraryRange = fc
  .tuple(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 20n }), fc.bigInt({ min: -(1n << 21n), max: (1n << 41n) + (1n << 21n) }))
  .map(([earliest, length, requested]) => ({ earliest, latest: earliest + length, requested: requested < 0n ? 0n : requested }))

const recoverOne = (policy: OffsetRecovery.HealingPolicy, r: { earliest: bigint; latest: bigint; requested: bigint }, previousAttempts = 0) =>
  OffsetRecovery.make(policy)
    .recover(
      [
        {
          position: { topic: "t", partition: 0, offset: r.requested, epoch: 0 },
          error: new KafkaError.OffsetOutOfRange({ topic: "t", partition: 0, requestedOffset: r.requested }),
          previousAttempts,
        },
      ],
      3,
    )
    .pipe(Effect.provide(lister(r.earliest, r.latest)), Effect.either, Effect.runSync)

describe("OffsetRecovery properties", () => {
  it.prop("nearest: outside the range → the nearer end, skipped = offsets jumped forward; inside → refetch", [arbitraryRange], ([r]) => {
    const result = recoverOne("nearest", r)
    if (r.requested >= r.earliest && r.requested <= r.latest) {
      expect(result).toMatchObject({ _tag: "Right", right: [{ _tag: "Refetch", attempt: 1, requestedOffset: r.requested }] })
      return
    }
    const expected = r.requested < r.earliest ? r.earliest : r.latest
    expect(result).toMatchObject({
      _tag: "Right",
      right: [
        {
          _tag: "Reset",
          requestedOffset: r.requested,
          earliest: r.earliest,
          latest: r.latest,
          newOffset: expected,
          skipped: expected > r.requested ? expected - r.requested : 0n,
        },
      ],
    })
  })

  it.prop("earliest and latest: always that end when out of range; the new offset lies in the range", [arbitraryRange], ([r]) => {
    for (const policy of ["earliest", "latest"] as const) {
      const result = recoverOne(policy, r)
      if (result._tag === "Left") throw result.left
      const [decision] = result.right
      if (r.requested >= r.earliest && r.requested <= r.latest) {
        expect(decision._tag).toBe("Refetch")
        continue
      }
      if (decision._tag !== "Reset") throw new Error(`expected a reset, got ${decision._tag}`)
      expect(decision.newOffset).toBe(policy === "earliest" ? r.earliest : r.latest)
      expect(decision.newOffset >= r.earliest && decision.newOffset <= r.latest).toBe(true)
      expect(decision.skipped).toBe(decision.newOffset > r.requested ? decision.newOffset - r.requested : 0n)
    }
  })

  it.prop(
    "a broker that keeps answering out of range inside the listed range: exhausted after maxAttempts, never a loop",
    [arbitraryRange.filter((r) => r.requested >= r.earliest && r.requested <= r.latest), fc.integer({ min: 0, max: 5 })],
    ([r, previous]) => {
      const result = recoverOne("nearest", r, previous)
      if (previous + 1 >= 3) {
        expect(result).toMatchObject({ _tag: "Left", left: { _tag: "OffsetRecoveryExhausted", attempts: previous + 1, requestedOffset: r.requested } })
      } else {
        expect(result).toMatchObject({ _tag: "Right", right: [{ _tag: "Refetch", attempt: previous + 1 }] })
      }
    },
  )
})

// ---------------------------------------------------------------------------------------------
// assignors

interface Group {
  readonly counts: ReadonlyMap<string, number>
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly topics: ReadonlyArray<string> }>
}

const TOPICS = ["a", "b", "c", "d"]

const arbitraryGroup: fc.Arbitrary<Group> = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 24 }), { minLength: TOPICS.length, maxLength: TOPICS.length }),
    fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
    fc.array(fc.subarray(TOPICS, { minLength: 1 }), { minLength: 8, maxLength: 8 }),
  )
  .map(([counts, ids, subscriptions]) => ({
    counts: new Map(TOPICS.map((t, i) => [t, counts[i]])),
    members: ids.map((memberId, i) => ({ memberId, topics: subscriptions[i] })),
  }))

const member = (memberId: string, topics: ReadonlyArray<string>, owned: ReadonlyArray<TopicPartition.TopicPartition> = []): Assignor.AssignorMember => ({
  memberId,
  subscription: MemberProtocol.decodeSubscriptionSync(
    MemberProtocol.encodeSubscription({ topics, ownedPartitions: owned, version: owned.length > 0 ? 1 : 0 }),
  ),
})

/**
 * What breaks "every partition of a subscribed topic once, to a subscriber, ascending per topic, an
 * entry per member" (partitions in `withheld` may be missing). Empty when nothing does.
 */
const violations = (group: Group, result: ReadonlyMap<string, ReadonlyArray<TopicPartition.TopicPartition>>, withheld = new Set<string>()) => {
  const problems: Array<string> = []
  for (const m of group.members) if (!result.has(m.memberId)) problems.push(`no entry for ${m.memberId}`)
  const seen = new Map<string, string>()
  for (const [memberId, tps] of result) {
    const topics = group.members.find((m) => m.memberId === memberId)?.topics ?? []
    let previous: TopicPartition.TopicPartition | undefined
    for (const tp of tps) {
      const k = TopicPartition.format(tp)
      if (!topics.includes(tp.topic)) problems.push(`${k} to ${memberId}, who does not subscribe to ${tp.topic}`)
      const other = seen.get(k)
      if (other !== undefined) problems.push(`${k} to ${other} and ${memberId}`)
      seen.set(k, memberId)
      if (previous !== undefined && previous.topic === tp.topic && previous.partition > tp.partition) problems.push(`${memberId}: ${k} after ${TopicPartition.format(previous)}`)
      previous = tp
    }
  }
  for (const [topic, count] of group.counts) {
    if (!group.members.some((m) => m.topics.includes(topic))) continue
    for (let p = 0; p < count; p++) {
      const k = `${topic}-${p}`
      if (!withheld.has(k) && !seen.has(k)) problems.push(`${k} assigned to no one`)
    }
  }
  return problems
}

const perTopicSpread = (group: Group, result: ReadonlyMap<string, ReadonlyArray<TopicPartition.TopicPartition>>, topic: string) => {
  const sizes = group.members
    .filter((m) => m.topics.includes(topic))
    .map((m) => (result.get(m.memberId) ?? []).filter((tp) => tp.topic === topic).length)
  return sizes.length === 0 ? 0 : Math.max(...sizes) - Math.min(...sizes)
}

describe("Assignor properties", () => {
  it.prop("range, roundrobin, RoundRobinAssigner, cooperative-sticky: every partition once, only to a subscriber", [arbitraryGroup], ([group]) => {
    for (const assignor of [Assignor.range, Assignor.roundRobin, Assignor.kafkajsRoundRobin, Assignor.cooperativeSticky]) {
      expect(violations(group, assignor.assign(group.members.map((m) => member(m.memberId, m.topics)), group.counts))).toEqual([])
    }
  })

  it.prop("range and cooperative-sticky are balanced per topic (shares differ by at most one)", [arbitraryGroup], ([group]) => {
    for (const assignor of [Assignor.range, Assignor.cooperativeSticky]) {
      const result = assignor.assign(group.members.map((m) => member(m.memberId, m.topics)), group.counts)
      for (const topic of TOPICS) expect(perTopicSpread(group, result, topic)).toBeLessThanOrEqual(1)
    }
  })

  it.prop("round robins are balanced overall when every member subscribes to the same topics", [arbitraryGroup], ([group]) => {
    const same: Group = { ...group, members: group.members.map((m) => ({ ...m, topics: group.members[0].topics })) }
    for (const assignor of [Assignor.roundRobin, Assignor.kafkajsRoundRobin]) {
      const result = assignor.assign(same.members.map((m) => member(m.memberId, m.topics)), same.counts)
      const sizes = [...result.values()].map((tps) => tps.length)
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    }
  })

  it.prop("cooperative-sticky is sticky: owning what it assigned, the next round assigns exactly the same", [arbitraryGroup], ([group]) => {
    const first = Assignor.cooperativeSticky.assign(group.members.map((m) => member(m.memberId, m.topics)), group.counts)
    const again = Assignor.cooperativeSticky.assign(
      group.members.map((m) => member(m.memberId, m.topics, first.get(m.memberId) ?? [])),
      group.counts,
    )
    expect(again).toEqual(first)
  })

  it.prop(
    "cooperative-sticky with any owned claims: never gives a member a partition another member still owns; the rest is complete",
    [arbitraryGroup, fc.array(fc.tuple(fc.nat(7), fc.constantFrom(...TOPICS), fc.nat(30)), { maxLength: 40 })],
    ([group, claims]) => {
      const owned = new Map<string, Array<TopicPartition.TopicPartition>>()
      for (const [i, topic, partition] of claims) {
        const m = group.members[i % group.members.length]
        owned.set(m.memberId, [...(owned.get(m.memberId) ?? []), TopicPartition.make(topic, partition)])
      }
      const members = group.members.map((m) => member(m.memberId, m.topics, owned.get(m.memberId) ?? []))
      const result = Assignor.cooperativeSticky.assign(members, group.counts)
      // The first valid claim of a partition is its owner (claims of unsubscribed topics or beyond the count do not count).
      const owner = new Map<string, string>()
      for (const m of [...group.members].sort((x, y) => (x.memberId < y.memberId ? -1 : x.memberId > y.memberId ? 1 : 0))) {
        for (const tp of owned.get(m.memberId) ?? []) {
          const k = TopicPartition.format(tp)
          if (m.topics.includes(tp.topic) && tp.partition < (group.counts.get(tp.topic) ?? 0) && !owner.has(k)) owner.set(k, m.memberId)
        }
      }
      const withheld = new Set<string>()
      const takenFromOwner: Array<string> = []
      for (const [memberId, tps] of result) {
        for (const tp of tps) {
          const current = owner.get(TopicPartition.format(tp))
          if (current !== undefined && current !== memberId) takenFromOwner.push(`${TopicPartition.format(tp)}: ${current} → ${memberId}`)
        }
      }
      expect(takenFromOwner).toEqual([])
      // A partition still owned by someone else who gives it up is withheld this round.
      for (const [k, memberId] of owner) {
        if (!(result.get(memberId) ?? []).some((tp) => TopicPartition.format(tp) === k)) withheld.add(k)
      }
      expect(violations(group, result, withheld)).toEqual([])
    },
  )
})
