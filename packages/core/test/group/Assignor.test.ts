import { describe, expect, it } from "@effect/vitest"
import { Assignor, MemberProtocol, TopicPartition } from "@kafka-effect/core"

const member = (memberId: string, topics: ReadonlyArray<string>): Assignor.AssignorMember => ({
  memberId,
  subscription: MemberProtocol.decodeSubscriptionSync(MemberProtocol.encodeSubscription({ topics })),
})

const show = (result: ReadonlyMap<string, ReadonlyArray<TopicPartition.TopicPartition>>) =>
  Object.fromEntries([...result].map(([id, tps]) => [id, tps.map(TopicPartition.format)]))

describe("Assignor.range", () => {
  it("gives consecutive ranges per topic, the first members one more", () => {
    const r = Assignor.range.assign(
      [member("c", ["t", "u"]), member("a", ["t", "u"]), member("b", ["t", "u"])],
      new Map([["t", 7], ["u", 2]]),
    )
    expect(show(r)).toEqual({
      a: ["t-0", "t-1", "t-2", "u-0"],
      b: ["t-3", "t-4", "u-1"],
      c: ["t-5", "t-6"],
    })
  })

  it("assigns a topic only among its subscribers; unknown topics get nothing", () => {
    const r = Assignor.range.assign([member("a", ["t"]), member("b", ["t", "u", "nope"])], new Map([["t", 2], ["u", 3]]))
    expect(show(r)).toEqual({ a: ["t-0"], b: ["t-1", "u-0", "u-1", "u-2"] })
  })
})

describe("Assignor.roundRobin", () => {
  it("deals sorted partitions round the sorted members", () => {
    const r = Assignor.roundRobin.assign([member("m2", ["u", "t"]), member("m1", ["t", "u"])], new Map([["t", 3], ["u", 2]]))
    expect(show(r)).toEqual({ m1: ["t-0", "t-2", "u-1"], m2: ["t-1", "u-0"] })
  })

  it("skips members that do not subscribe to the topic (as Java's RoundRobinAssignor)", () => {
    const r = Assignor.roundRobin.assign([member("a", ["t"]), member("b", ["t", "u"]), member("c", ["u"])], new Map([["t", 3], ["u", 3]]))
    expect(show(r)).toEqual({ a: ["t-0", "t-2"], b: ["t-1", "u-0", "u-2"], c: ["u-1"] })
  })

  it("six partitions over two and three members", () => {
    const counts = new Map([["t", 6]])
    for (const assignor of [Assignor.range, Assignor.roundRobin, Assignor.kafkajsRoundRobin]) {
      const two = assignor.assign([member("a", ["t"]), member("b", ["t"])], counts)
      const three = assignor.assign([member("a", ["t"]), member("b", ["t"]), member("c", ["t"])], counts)
      for (const r of [two, three]) {
        const all = [...r.values()].flat().map(TopicPartition.format).sort()
        expect(all).toEqual(["t-0", "t-1", "t-2", "t-3", "t-4", "t-5"])
        for (const tps of r.values()) expect(tps.length).toBe(6 / r.size)
      }
    }
  })
})

describe("Assignor names", () => {
  it("match the protocol names of Java/librdkafka (range, roundrobin) and kafkajs (RoundRobinAssigner)", () => {
    expect(Assignor.defaults.map((a) => a.name)).toEqual(["range", "roundrobin", "RoundRobinAssigner"])
  })

  it("kafkajs's name deals like kafkajs's RoundRobinAssigner for equal subscriptions", () => {
    // kafkajs: partitions of each topic in order, i-th partition to sortedMembers[i % n].
    const r = Assignor.kafkajsRoundRobin.assign(
      [member("b", ["t", "u"]), member("a", ["t", "u"])],
      new Map([["t", 3], ["u", 3]]),
    )
    expect(show(r)).toEqual({ a: ["t-0", "t-2", "u-1"], b: ["t-1", "u-0", "u-2"] })
  })
})

describe("Assignor.cooperativeSticky", () => {
  it("keeps what members own up to their share and leaves out partitions that still have another owner", () => {
    const member = (memberId: string, owned: Array<number>) => ({
      memberId,
      subscription: MemberProtocol.decodeSubscriptionSync(
        MemberProtocol.encodeSubscription({ version: 1, topics: ["t"], ownedPartitions: owned.map((p) => TopicPartition.make("t", p)) }),
      ),
    })
    const show = (r: ReadonlyMap<string, ReadonlyArray<TopicPartition.TopicPartition>>) =>
      Object.fromEntries([...r].map(([id, tps]) => [id, tps.map((tp) => tp.partition)]))
    const counts = new Map([["t", 6]])
    // a owned everything, b and c are new: a keeps two, the rest wait for a to revoke them.
    expect(show(Assignor.cooperativeSticky.assign([member("a", [0, 1, 2, 3, 4, 5]), member("b", []), member("c", [])], counts))).toEqual({
      a: [0, 1],
      b: [],
      c: [],
    })
    // Next round (a revoked 2..5): b and c get them, a keeps its two.
    expect(show(Assignor.cooperativeSticky.assign([member("a", [0, 1]), member("b", []), member("c", [])], counts))).toEqual({
      a: [0, 1],
      b: [2, 3],
      c: [4, 5],
    })
    // A member leaves (c gone): its partitions are free and go at once; nobody else moves.
    expect(show(Assignor.cooperativeSticky.assign([member("a", [0, 1]), member("b", [2, 3])], counts))).toEqual({
      a: [0, 1, 4],
      b: [2, 3, 5],
    })
  })
})
