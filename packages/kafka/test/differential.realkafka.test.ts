/**
 * The testkit's embedded broker held against real Apache Kafka: each test sends one request
 * sequence to both (through kafkajs's protocol layer, at the versions kafkajs 2.2.4 negotiates) and
 * compares what a client acts on: error codes, offsets, high watermark, log start offset, group
 * answers. Where the embedded broker answers differently on purpose, the test asserts each side's
 * answer explicitly (the testkit's docs list these as known differences), so that a change on
 * either side fails it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as D from "./harness/Differential.js"

const ERR = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  INVALID_TIMESTAMP: 32,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_REQUEST: 42,
  MEMBER_ID_REQUIRED: 79,
} as const

/** The versions kafkajs 2.2.4 negotiates with both brokers. */
const VERSIONS = {
  Produce: 7,
  Fetch: 11,
  ListOffsets: 3,
  Metadata: 6,
  DeleteRecords: 1,
  JoinGroup: 5,
  SyncGroup: 3,
  Heartbeat: 3,
  LeaveGroup: 3,
  OffsetCommit: 5,
  OffsetFetch: 4,
  DescribeGroups: 2,
} as const

/** Takes a known difference out of both transcripts after asserting each side's answer. */
const knownDifference = (both: D.Both<D.Transcript>, key: string, expected: D.Both<unknown>) => {
  expect({ key, kafka: both.kafka[key] }).toEqual({ key, kafka: expected.kafka })
  expect({ key, embedded: both.embedded[key] }).toEqual({ key, embedded: expected.embedded })
  delete both.kafka[key]
  delete both.embedded[key]
}

const TIMEOUT = 90_000

describe("the embedded broker answers as Apache Kafka", () => {
  it.live(
    "Fetch at, below and above the valid range: empty partition, high watermark, hwm+1, after DeleteRecords at and below the log start",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("fetch")
            const at = (offset: bigint) => D.fetch(side, p, [{ topic: t, partition: 0, offset }])
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 1)
            out["empty: at 0"] = yield* at(0n)
            out["empty: at 1 (hwm+1)"] = yield* at(1n)
            out["empty: at -1"] = yield* at(-1n)
            out["produce v0..v4"] = yield* D.produce(side, p, t, 0, ["v0", "v1", "v2", "v3", "v4"])
            out["at 0"] = yield* at(0n)
            out["at 3"] = yield* at(3n)
            out["at 5 (hwm)"] = yield* at(5n)
            out["at 6 (hwm+1)"] = yield* at(6n)
            out["at 1000"] = yield* at(1000n)
            out["delete before 3"] = yield* D.deleteRecords(side, p, t, [{ partition: 0, offset: 3n }])
            out["after delete: at 3 (log start)"] = yield* at(3n)
            out["after delete: at 2 (below log start)"] = yield* at(2n)
            out["after delete: at 0"] = yield* at(0n)
            out["after delete: at 5 (hwm)"] = yield* at(5n)
            out["delete all (-1)"] = yield* D.deleteRecords(side, p, t, [{ partition: 0, offset: -1n }])
            out["after delete all: at 5"] = yield* at(5n)
            out["after delete all: at 4"] = yield* at(4n)
            out["produce v5"] = yield* D.produce(side, p, t, 0, ["v5"])
            out["after delete all: at 5 again"] = yield* at(5n)
            return out
          }),
        )
        expect(both.kafka["at 6 (hwm+1)"]).toMatchObject({ version: VERSIONS.Fetch })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "Fetch of several partitions in one request, one out of range, one empty, an unknown partition and an unknown topic",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("multi")
            const unknown = side.unique("unknown")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 3)
            out["produce p0"] = yield* D.produce(side, p, t, 0, ["a0", "a1"])
            out["produce p1"] = yield* D.produce(side, p, t, 1, ["b0"])
            out["fetch them"] = yield* D.fetch(side, p, [
              { topic: t, partition: 0, offset: 0n },
              { topic: t, partition: 1, offset: 5n },
              { topic: t, partition: 2, offset: 0n },
              { topic: t, partition: 7, offset: 0n },
              { topic: unknown, partition: 0, offset: 0n },
            ])
            out["fetch, out of range first"] = yield* D.fetch(side, p, [
              { topic: t, partition: 1, offset: 2n },
              { topic: t, partition: 0, offset: 1n },
            ])
            return out
          }),
        )
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "Fetch returns whole batches (records below the position come along), the first batch even above the size limits, and stops at the response limit",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("batches")
            const big = "x".repeat(200)
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 2)
            out["a batch of three"] = yield* D.produceBatch(side, p, t, 0, ["b0", "b1", "b2"])
            out["three batches of one, large"] = yield* D.produce(side, p, t, 0, [`${big}3`, `${big}4`, `${big}5`])
            out["p1: a batch"] = yield* D.produceBatch(side, p, t, 1, ["c0", "c1"])
            out["at 1, inside the batch"] = yield* D.fetch(side, p, [{ topic: t, partition: 0, offset: 1n }])
            out["at 2, the batch's last record"] = yield* D.fetch(side, p, [{ topic: t, partition: 0, offset: 2n }])
            out["at 3, partition limit of 10 bytes"] = yield* D.fetch(side, p, [{ topic: t, partition: 0, offset: 3n }], { partitionMaxBytes: 10 })
            out["at 0, partition limit of 10 bytes"] = yield* D.fetch(side, p, [{ topic: t, partition: 0, offset: 0n }], { partitionMaxBytes: 10 })
            out["at 3 and p1 at 0, response limit of 10 bytes"] = yield* D.fetch(
              side,
              p,
              [
                { topic: t, partition: 0, offset: 3n },
                { topic: t, partition: 1, offset: 0n },
              ],
              { maxBytes: 10 },
            )
            return out
          }),
        )
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "ListOffsets earliest, latest and by timestamp; the same partition twice in one request; unknown partitions; after DeleteRecords",
    () =>
      Effect.gen(function* () {
        // Timestamps in the past (Kafka refuses records too far in the future), the same on both sides.
        const base = Date.now() - 60 * 60 * 1000
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("list")
            const unknown = side.unique("unknown")
            const list = (timestamps: ReadonlyArray<number>, partition = 0) =>
              D.listOffsets(side, p, timestamps.map((timestamp) => ({ topic: t, partition, timestamp })))
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 2)
            out["empty: earliest"] = yield* list([-2])
            out["empty: latest"] = yield* list([-1])
            out["empty: by timestamp"] = yield* list([base])
            out["produce records"] = yield* D.produce(side, p, t, 0, ["r0", "r1", "r2", "r3"], [base, base + 1000, base + 2000, base + 3000])
            out["earliest offset"] = yield* list([-2])
            out["latest offset"] = yield* list([-1])
            out["at the first timestamp"] = yield* list([base])
            out["before the first timestamp"] = yield* list([base - 5000])
            out["between two timestamps"] = yield* list([base + 1500])
            out["at the last timestamp"] = yield* list([base + 3000])
            out["after the last timestamp"] = yield* list([base + 9000])
            out["the same partition twice (earliest, latest)"] = yield* list([-2, -1])
            out["the same partition twice, another partition too"] = yield* D.listOffsets(side, p, [
              { topic: t, partition: 0, timestamp: -1 },
              { topic: t, partition: 1, timestamp: -1 },
              { topic: t, partition: 0, timestamp: -1 },
            ])
            out["unknown partition and topic"] = yield* D.listOffsets(side, p, [
              { topic: t, partition: 9, timestamp: -1 },
              { topic: unknown, partition: 0, timestamp: -2 },
            ])
            out["delete before 2"] = yield* D.deleteRecords(side, p, t, [{ partition: 0, offset: 2n }])
            out["after delete: earliest"] = yield* list([-2])
            out["after delete: latest"] = yield* list([-1])
            out["after delete: by a deleted record's timestamp"] = yield* list([base])
            out["after delete: by the log start record's timestamp"] = yield* list([base + 2000])
            return out
          }),
        )
        expect(both.kafka["earliest offset"]).toMatchObject({ version: VERSIONS.ListOffsets })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "DeleteRecords below, at and above the high watermark, below the log start, with -1, on an empty partition, on unknown partitions",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("delete")
            const unknown = side.unique("unknown")
            const del = (partition: number, offset: bigint, topic = t) => D.deleteRecords(side, p, topic, [{ partition, offset }])
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 2)
            out["empty: before 0"] = yield* del(1, 0n)
            out["empty: before 1 (above hwm)"] = yield* del(1, 1n)
            out["empty: -1"] = yield* del(1, -1n)
            out["produce records"] = yield* D.produce(side, p, t, 0, ["d0", "d1", "d2", "d3", "d4"])
            out["before 2"] = yield* del(0, 2n)
            out["before 1 (below the log start)"] = yield* del(0, 1n)
            out["before 6 (above hwm)"] = yield* del(0, 6n)
            out["before 5 (hwm)"] = yield* del(0, 5n)
            out["fetch at 5"] = yield* D.fetch(side, p, [{ topic: t, partition: 0, offset: 5n }])
            out["produce more"] = yield* D.produce(side, p, t, 0, ["d5", "d6"])
            out["-1 (the high watermark)"] = yield* del(0, -1n)
            out["earliest offset"] = yield* D.listOffsets(side, p, [{ topic: t, partition: 0, timestamp: -2 }])
            out["two partitions in one request"] = yield* D.deleteRecords(side, p, t, [
              { partition: 0, offset: 7n },
              { partition: 1, offset: 3n },
            ])
            out["unknown partition"] = yield* del(4, 0n)
            out["unknown topic"] = yield* del(0, 0n, unknown)
            return out
          }),
        )
        expect(both.kafka["before 2"]).toMatchObject({ version: VERSIONS.DeleteRecords })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "Produce to unknown topics and partitions; Metadata of unknown topics with and without auto-creation, and of an invalid name",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("known")
            const unknown = side.unique("unknown")
            const auto = side.unique("auto")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 1)
            out["produce to an unknown topic"] = yield* D.produce(side, p, unknown, 0, ["x"])
            out["produce to an unknown partition"] = yield* D.produce(side, p, t, 3, ["x"])
            out["produce records"] = yield* D.produce(side, p, t, 0, ["k0", "k1"])
            out["metadata: unknown, no auto-creation"] = yield* D.metadata(side, p, [unknown, t], false)
            // kafkajs sends no topics as "all topics": only this run's are compared (the shared broker has others).
            const all = yield* D.metadata(side, p, [], false)
            out["metadata: all topics"] = { ...all, topics: all.topics.filter((x) => !x.topic.startsWith("?")) }
            out["metadata: invalid name, no auto-creation"] = yield* D.metadata(side, p, ["bad name!"], false)
            out["metadata: invalid name, auto-creation"] = yield* D.metadata(side, p, ["bad name!"], true)
            out["the unknown topic is still unknown"] = yield* D.metadata(side, p, [unknown], false)
            out["metadata: unknown, auto-creation"] = yield* D.metadata(side, p, [auto], true)
            yield* D.awaitTopic(p, auto, 1)
            out["metadata: auto-created"] = yield* D.metadata(side, p, [auto], false)
            out["produce to the auto-created topic"] = yield* D.produce(side, p, auto, 0, ["a0"])
            return out
          }),
        )
        expect(both.kafka["produce records"]).toMatchObject([{ version: VERSIONS.Produce }, { version: VERSIONS.Produce }])
        expect(both.kafka["metadata: auto-created"]).toMatchObject({ version: VERSIONS.Metadata })
        knownDifference(both, "metadata: unknown, auto-creation", {
          // Kafka creates the topic in the background and answers the creating request with it unknown.
          kafka: {
            version: VERSIONS.Metadata,
            brokers: 1,
            controllerIsABroker: true,
            topics: [{ topic: "auto", errorCode: ERR.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] }],
          },
          // The embedded broker creates it at once and answers with it.
          embedded: {
            version: VERSIONS.Metadata,
            brokers: 1,
            controllerIsABroker: true,
            topics: [{ topic: "auto", errorCode: ERR.NONE, partitions: [{ partition: 0, errorCode: ERR.NONE }] }],
          },
        })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "Produce with timestamps far in the future and far in the past",
    () =>
      Effect.gen(function* () {
        const now = Date.now()
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("timestamps")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(p, t, 1)
            out["ten years back"] = yield* D.produce(side, p, t, 0, ["past"], [now - 10 * 365 * 24 * 60 * 60 * 1000])
            out["timestamp now"] = yield* D.produce(side, p, t, 0, ["now"], [now])
            out["a batch above message.max.bytes"] = yield* D.produce(side, p, t, 0, ["y".repeat(1_100_000)])
            out["two hours ahead"] = yield* D.produce(side, p, t, 0, ["future"], [now + 2 * 60 * 60 * 1000])
            return out
          }),
        )
        knownDifference(both, "two hours ahead", {
          // Kafka 4 refuses a CreateTime more than log.message.timestamp.after.max.ms (1 hour) ahead of its clock.
          kafka: [{ version: VERSIONS.Produce, partitions: [{ topic: "timestamps", partition: 0, errorCode: ERR.INVALID_TIMESTAMP, baseOffset: "-1", logStartOffset: "0" }] }],
          // The embedded broker takes any timestamp (it often runs on a TestClock, far from the clients' clocks).
          embedded: [{ version: VERSIONS.Produce, partitions: [{ topic: "timestamps", partition: 0, errorCode: ERR.NONE, baseOffset: "2", logStartOffset: "0" }] }],
        })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "with auto-creation off, the embedded broker answers Metadata of an unknown topic as Kafka does when the client does not allow it",
    () =>
      Effect.gen(function* () {
        // The shared Kafka has auto.create.topics.enable on; a request that does not allow creation is
        // what a broker with it off answers to any Metadata request.
        const run = (allowAutoTopicCreation: boolean) => (side: D.Side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const unknown = side.unique("unknown")
            return {
              "metadata of an unknown topic": yield* D.metadata(side, p, [unknown], allowAutoTopicCreation),
              "again, creation not allowed": yield* D.metadata(side, p, [unknown], false),
              "produce records": yield* D.produce(side, p, unknown, 0, ["x"]),
            } satisfies D.Transcript
          })
        const { kafka, embedded } = yield* D.onBoth({ kafka: run(false), embedded: run(true) }, { autoCreateTopics: false })
        expect(embedded).toEqual(kafka)
        expect(kafka["metadata of an unknown topic"].topics).toEqual([{ topic: "unknown", errorCode: ERR.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] }])
      }),
    TIMEOUT,
  )

  it.live(
    "CreateTopics and DeleteTopics: an existing topic, bad partition counts and replication factors, an invalid name, validate only, an unknown topic",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const p = yield* side.open()
            const t = side.unique("topics")
            const other = side.unique("other")
            const gone = side.unique("gone")
            const out: D.Transcript = {}
            out["create with the broker's default partition count (-1)"] = yield* D.createTopicRequest(p, t, -1, 1)
            yield* D.awaitTopic(p, t, 1)
            out["its metadata"] = yield* D.metadata(side, p, [t], false)
            out["create it again"] = yield* D.createTopicRequest(p, t, 1, 1)
            out["create with 0 partitions"] = yield* D.createTopicRequest(p, other, 0, 1)
            out["create with a replication factor above the broker count"] = yield* D.createTopicRequest(p, other, 1, 3)
            out["create with an invalid name"] = yield* D.createTopicRequest(p, "bad name!", 1, 1)
            out["validate only"] = yield* D.createTopicRequest(p, other, 2, 1, true)
            out["validate only did not create it"] = yield* D.metadata(side, p, [other], false)
            out["validate only, an existing topic"] = yield* D.createTopicRequest(p, t, 1, 1, true)
            out["create to delete"] = yield* D.createTopic(p, gone, 1)
            out["delete it and an unknown topic"] = yield* D.deleteTopics(side, p, [gone, other])
            out["deleted at last"] = (yield* D.until("deleted", D.metadata(side, p, [gone], false), (m) => m.topics[0]?.errorCode !== 0)).topics
            return out
          }),
        )
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "group requests for a group that does not exist, an empty group id, an unknown member",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const admin = yield* side.open("admin")
            const t = side.unique("nogroup")
            const g = side.unique("nothing")
            const a = yield* D.member(side, "member-a")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(admin, t, 1)
            yield* D.awaitCoordinator(a, g)
            out["a heartbeat"] = yield* D.heartbeat(a, g, 1, "ghost")
            out["a sync"] = yield* D.sync(a, g, 1, "ghost")
            out["a leave"] = yield* D.leave(side, a, g, "ghost")
            out["commit with a generation"] = yield* D.commit(side, a, g, 1, "ghost", [{ topic: t, partition: 0, offset: 1n }])
            out["commit with a member id and no generation"] = yield* D.commit(side, a, g, -1, "ghost", [{ topic: t, partition: 0, offset: 1n }])
            out["still no group"] = yield* D.describeGroup(side, a, g)
            out["join with an empty group id"] = (yield* D.join(side, a, "", "")).view
            return out
          }),
        )
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "one member: MEMBER_ID_REQUIRED, join, wrong generation and unknown member in SyncGroup / Heartbeat / OffsetCommit, simple commits, OffsetFetch of what was never committed, LeaveGroup",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const admin = yield* side.open("admin")
            const t = side.unique("offsets")
            const unknownTopic = side.unique("unknown")
            const g = side.unique("group")
            const fresh = side.unique("fresh-group")
            const a = yield* D.member(side, "member-a")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(admin, t, 2)
            yield* D.awaitCoordinator(a, g)
            out["describe before any join"] = yield* D.describeGroup(side, a, g)
            const first = yield* D.requestMemberId(side, a, g, "A")
            out["join with an empty member id"] = first.first
            const ida = first.memberId
            out["join with an unknown member id"] = (yield* D.join(side, a, g, "ghost")).view
            out["join with a session timeout below the broker's minimum"] = (yield* D.join(side, a, g, ida, { sessionTimeout: 1000 })).view
            out["join with a session timeout above the broker's maximum"] = (yield* D.join(side, a, g, ida, { sessionTimeout: 1_800_001 })).view
            out["join with the given id"] = (yield* D.join(side, a, g, ida)).view
            out["sync, wrong generation"] = yield* D.sync(a, g, 2, ida)
            out["sync, unknown member"] = yield* D.sync(a, g, 1, "ghost")
            out["commit while completing the rebalance"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 0, offset: 1n }])
            out["heartbeat while completing the rebalance"] = yield* D.heartbeat(a, g, 1, ida)
            out["sync (leader)"] = yield* D.sync(a, g, 1, ida, [{ memberId: ida, assignment: "assign-A" }])
            out["sync again when stable"] = yield* D.sync(a, g, 1, ida)
            out["describe the group"] = yield* D.describeGroup(side, a, g)
            const c = yield* D.member(side, "member-c")
            out["a new member with another protocol type"] = (yield* D.join(side, c, g, "", { protocolType: "connect" })).view
            out["a new member with no protocol in common"] = (yield* D.join(side, c, g, "", { protocols: ["roundrobin"] })).view
            out["heartbeat in the generation"] = yield* D.heartbeat(a, g, 1, ida)
            out["heartbeat, wrong generation"] = yield* D.heartbeat(a, g, 2, ida)
            out["heartbeat, stale generation"] = yield* D.heartbeat(a, g, 0, ida)
            out["heartbeat, unknown member"] = yield* D.heartbeat(a, g, 1, "ghost")
            out["commit in the generation"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 0, offset: 5n, metadata: "m" }])
            out["commit, stale generation"] = yield* D.commit(side, a, g, 0, ida, [{ topic: t, partition: 0, offset: 6n }])
            out["commit, future generation"] = yield* D.commit(side, a, g, 2, ida, [{ topic: t, partition: 0, offset: 6n }])
            out["commit, unknown member"] = yield* D.commit(side, a, g, 1, "ghost", [{ topic: t, partition: 0, offset: 6n }])
            out["commit outside the group while it has a member"] = yield* D.commit(side, a, g, -1, "", [{ topic: t, partition: 0, offset: 6n }])
            out["commit, an unknown topic with a known one"] = yield* D.commit(side, a, g, 1, ida, [
              { topic: unknownTopic, partition: 0, offset: 1n },
              { topic: t, partition: 1, offset: 2n },
            ])
            out["commit, an unknown partition"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 5, offset: 1n }])
            out["commit, metadata above offset.metadata.max.bytes"] = yield* D.commit(side, a, g, 1, ida, [
              { topic: t, partition: 1, offset: 8n, metadata: "m".repeat(5000) },
            ])
            out["commit, a negative offset"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 1, offset: -3n }])
            out["offset fetch after them"] = yield* D.committed(side, a, g, [{ topic: t, partition: 1 }])
            out["commit partition 1 back to 2"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 1, offset: 2n }])
            out["offset fetch: committed, never committed, unknown topic"] = yield* D.committed(side, a, g, [
              { topic: t, partition: 0 },
              { topic: t, partition: 1 },
              { topic: unknownTopic, partition: 0 },
            ])
            out["leave the group"] = yield* D.leave(side, a, g, ida)
            out["leave again"] = yield* D.leave(side, a, g, ida)
            out["heartbeat after leaving"] = yield* D.heartbeat(a, g, 1, ida)
            out["describe after leaving"] = yield* D.describeGroup(side, a, g)
            out["commit outside the group, now empty"] = yield* D.commit(side, a, g, -1, "", [{ topic: t, partition: 0, offset: 7n }])
            out["offset fetch after the simple commit"] = yield* D.committed(side, a, g, [{ topic: t, partition: 0 }])
            yield* D.awaitCoordinator(a, fresh)
            out["offset fetch of a group never used"] = yield* D.committed(side, a, fresh, [{ topic: t, partition: 0 }])
            out["commit outside any group (never joined)"] = yield* D.commit(side, a, fresh, -1, "", [{ topic: t, partition: 1, offset: 3n }])
            out["offset fetch of it"] = yield* D.committed(side, a, fresh, [{ topic: t, partition: 1 }])
            out["describe the simple-commit group"] = yield* D.describeGroup(side, a, fresh)
            out["list groups"] = yield* D.listGroups(side, a)
            return out
          }),
        )
        expect(both.kafka["join with the given id"]).toMatchObject({ errorCode: ERR.NONE, generationId: 1 })
        expect(both.kafka["join with an empty member id"]).toMatchObject({ version: VERSIONS.JoinGroup, errorCode: ERR.MEMBER_ID_REQUIRED })
        expect(both.kafka["heartbeat in the generation"]).toMatchObject({ version: VERSIONS.Heartbeat })
        expect(both.kafka["commit in the generation"]).toMatchObject({ version: VERSIONS.OffsetCommit })
        expect(both.kafka["offset fetch after the simple commit"]).toMatchObject({ version: VERSIONS.OffsetFetch })
        expect(both.kafka["leave the group"]).toMatchObject({ version: VERSIONS.LeaveGroup })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "two members: a heartbeat and a commit during the rebalance, SyncGroup by the leader while preparing, the follower's SyncGroup before the leader's, a member leaving",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const admin = yield* side.open("admin")
            const t = side.unique("rebalance")
            const g = side.unique("group")
            const a = yield* D.member(side, "member-a")
            const b = yield* D.member(side, "member-b")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(admin, t, 2)
            yield* D.awaitCoordinator(a, g)
            const ida = (yield* D.requestMemberId(side, a, g, "A")).memberId
            out["A joins"] = (yield* D.join(side, a, g, ida)).view
            out["A syncs"] = yield* D.sync(a, g, 1, ida, [{ memberId: ida, assignment: "A1" }])
            const first = yield* D.requestMemberId(side, b, g, "B")
            out["B asks for a member id"] = first.first
            const idb = first.memberId
            out["a member id asked for does not rebalance the group"] = (yield* D.describeGroup(side, a, g)).state
            const bJoin = yield* Effect.fork(D.join(side, b, g, idb))
            out["B's join starts a rebalance"] = (yield* D.awaitGroupState(side, a, g, "PreparingRebalance")).members
            out["A's heartbeat during the rebalance"] = yield* D.heartbeat(a, g, 1, ida)
            out["A's commit during the rebalance"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 0, offset: 3n }])
            out["A's sync during the rebalance"] = yield* D.sync(a, g, 1, ida, [{ memberId: ida, assignment: "A1" }])
            out["A rejoins"] = (yield* D.join(side, a, g, ida)).view
            out["B's join"] = (yield* Fiber.join(bJoin)).view
            const bSync = yield* Effect.fork(D.sync(b, g, 2, idb))
            out["A's heartbeat while completing"] = yield* D.heartbeat(a, g, 2, ida)
            out["A's commit while completing"] = yield* D.commit(side, a, g, 2, ida, [{ topic: t, partition: 0, offset: 4n }])
            out["B's sync is not answered before the leader's"] = (yield* Fiber.poll(bSync))._tag
            out["A syncs (leader)"] = yield* D.sync(a, g, 2, ida, [
              { memberId: ida, assignment: "A2" },
              { memberId: idb, assignment: "B2" },
            ])
            out["B's sync"] = yield* Fiber.join(bSync)
            out["A's commit, previous generation"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 0, offset: 5n }])
            out["B's commit"] = yield* D.commit(side, b, g, 2, idb, [{ topic: t, partition: 1, offset: 9n }])
            out["B's heartbeat"] = yield* D.heartbeat(b, g, 2, idb)
            out["describe the group"] = yield* D.describeGroup(side, a, g)
            out["a ghost leaves"] = yield* D.leave(side, b, g, "ghost")
            out["B leaves"] = yield* D.leave(side, b, g, idb)
            out["A's heartbeat after B left"] = yield* D.heartbeat(a, g, 2, ida)
            out["B's heartbeat after leaving"] = yield* D.heartbeat(b, g, 2, idb)
            out["A rejoins alone"] = (yield* D.join(side, a, g, ida)).view
            out["A syncs alone"] = yield* D.sync(a, g, 3, ida, [{ memberId: ida, assignment: "A3" }])
            out["committed offsets"] = yield* D.committed(side, a, g, [
              { topic: t, partition: 0 },
              { topic: t, partition: 1 },
            ])
            out["A leaves"] = yield* D.leave(side, a, g, ida)
            out["describe at the end"] = yield* D.describeGroup(side, a, g)
            return out
          }),
        )
        expect(both.kafka["A's heartbeat during the rebalance"]).toEqual({ version: VERSIONS.Heartbeat, errorCode: ERR.REBALANCE_IN_PROGRESS })
        expect(both.kafka["B's sync"]).toMatchObject({ version: VERSIONS.SyncGroup, errorCode: ERR.NONE, assignment: "B2" })
        expect(both.kafka["describe the group"]).toMatchObject({ version: VERSIONS.DescribeGroups })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "a member that stops heartbeating is removed at its session timeout: then its heartbeat, commit and rejoin answer UNKNOWN_MEMBER_ID; a new member starts the next generation",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const admin = yield* side.open("admin")
            const t = side.unique("expiry")
            const g = side.unique("group")
            const a = yield* D.member(side, "member-a")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(admin, t, 1)
            yield* D.awaitCoordinator(a, g)
            const ida = (yield* D.requestMemberId(side, a, g, "A")).memberId
            out["A joins with Kafka's minimum session (6 s)"] = (yield* D.join(side, a, g, ida, { sessionTimeout: 6_000 })).view
            out["A syncs"] = yield* D.sync(a, g, 1, ida, [{ memberId: ida, assignment: "A1" }])
            out["A is removed"] = yield* D.awaitGroupState(side, a, g, "Empty")
            out["A's heartbeat"] = yield* D.heartbeat(a, g, 1, ida)
            out["A's commit"] = yield* D.commit(side, a, g, 1, ida, [{ topic: t, partition: 0, offset: 1n }])
            out["A rejoins with its id"] = (yield* D.join(side, a, g, ida)).view
            const idb = (yield* D.requestMemberId(side, a, g, "B")).memberId
            out["B joins"] = (yield* D.join(side, a, g, idb)).view
            return out
          }),
        )
        expect(both.kafka["A's heartbeat"]).toEqual({ version: VERSIONS.Heartbeat, errorCode: ERR.UNKNOWN_MEMBER_ID })
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )

  it.live(
    "rejoins without a change: while completing the rebalance, a follower while stable, the leader while stable; a rejoin with other metadata",
    () =>
      Effect.gen(function* () {
        const both = yield* D.onBoth((side) =>
          Effect.gen(function* () {
            const admin = yield* side.open("admin")
            const t = side.unique("rejoin")
            const g = side.unique("group")
            const a = yield* D.member(side, "member-a")
            const b = yield* D.member(side, "member-b")
            const out: D.Transcript = {}
            out["create the topic"] = yield* D.createTopic(admin, t, 1)
            yield* D.awaitCoordinator(a, g)
            const ida = (yield* D.requestMemberId(side, a, g, "A")).memberId
            out["A joins"] = (yield* D.join(side, a, g, ida)).view
            out["A joins again before its sync"] = (yield* D.join(side, a, g, ida)).view
            out["the group"] = yield* D.describeGroup(side, a, g)
            out["A syncs"] = yield* D.sync(a, g, 1, ida, [{ memberId: ida, assignment: "A1" }])
            const idb = (yield* D.requestMemberId(side, b, g, "B")).memberId
            const bJoin = yield* Effect.fork(D.join(side, b, g, idb))
            yield* D.awaitGroupState(side, a, g, "PreparingRebalance")
            out["A rejoins for B"] = (yield* D.join(side, a, g, ida)).view
            out["B joins"] = (yield* Fiber.join(bJoin)).view
            out["A syncs for both"] = yield* D.sync(a, g, 2, ida, [
              { memberId: ida, assignment: "A2" },
              { memberId: idb, assignment: "B2" },
            ])
            out["B syncs"] = yield* D.sync(b, g, 2, idb)
            out["B (a follower) joins again, nothing changed"] = (yield* D.join(side, b, g, idb)).view
            out["the group after B's rejoin"] = yield* D.describeGroup(side, a, g)
            out["A's heartbeat after B's rejoin"] = yield* D.heartbeat(a, g, 2, ida)
            const aAgain = yield* Effect.fork(D.join(side, a, g, ida))
            out["A (the leader) joins again, nothing changed: a rebalance"] = (yield* D.awaitGroupState(side, b, g, "PreparingRebalance")).state
            out["B's heartbeat during it"] = yield* D.heartbeat(b, g, 2, idb)
            out["B rejoins"] = (yield* D.join(side, b, g, idb)).view
            out["A's join"] = (yield* Fiber.join(aAgain)).view
            out["A syncs for generation 3"] = yield* D.sync(a, g, 3, ida, [
              { memberId: ida, assignment: "A3" },
              { memberId: idb, assignment: "B3" },
            ])
            out["B syncs for generation 3"] = yield* D.sync(b, g, 3, idb)
            const bOther = yield* Effect.fork(D.join(side, b, g, idb, { protocols: ["range", "roundrobin"] }))
            out["B joins again with other metadata: a rebalance"] = (yield* D.awaitGroupState(side, a, g, "PreparingRebalance")).state
            out["A rejoins for it"] = (yield* D.join(side, a, g, ida)).view
            out["B's join with other metadata"] = (yield* Fiber.join(bOther)).view
            out["A leaves"] = yield* D.leave(side, a, g, ida)
            out["B leaves"] = yield* D.leave(side, b, g, idb)
            return out
          }),
        )
        expect(both.embedded).toEqual(both.kafka)
      }),
    TIMEOUT,
  )
})
