import { describe, expect, it } from "@effect/vitest"
import { MemberProtocol, TopicPartition } from "@kafka-effect/core"
import { Effect, Either } from "effect"

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"))

// Golden encodings, derived by reading kafkajs's src/consumer/assignerProtocol.js and
// src/protocol/encoder.js: int16 version, int32 array count, strings int16 length + utf8,
// bytes int32 length (kafkajs writes an empty Buffer, length 0, when there is no userData).
describe("MemberProtocol", () => {
  it("encodes a v0 subscription exactly as kafkajs's MemberMetadata.encode", () => {
    const bytes = MemberProtocol.encodeSubscription({ topics: ["a", "bc"] })
    expect(hex(bytes)).toBe(
      "0000" + // version 0
        "00000002" + // 2 topics
        "0001" + "61" + // "a"
        "0002" + "6263" + // "bc"
        "00000000", // userData: empty bytes
    )
  })

  it("encodes an assignment exactly as kafkajs's MemberAssignment.encode", () => {
    const bytes = MemberProtocol.encodeAssignment({
      partitions: [TopicPartition.make("t", 0), TopicPartition.make("t", 2)],
    })
    expect(hex(bytes)).toBe(
      "0000" + // version 0
        "00000001" + // 1 topic
        "0001" + "74" + // "t"
        "00000002" + "00000000" + "00000002" + // partitions [0, 2]
        "00000000", // userData: empty
    )
  })

  it("encodes utf8 topic names by byte length and several topics in first-seen order", () => {
    const bytes = MemberProtocol.encodeAssignment({
      partitions: [TopicPartition.make("tö", 1), TopicPartition.make("x", 3), TopicPartition.make("x", 4)],
      userData: new Uint8Array([9]),
    })
    expect(hex(bytes)).toBe(
      "0000" + "00000002" + "0003" + "74c3b6" + "00000001" + "00000001" + "0001" + "78" + "00000002" + "00000003" + "00000004" + "00000001" + "09",
    )
  })

  it("decodes what kafkajs writes", () => {
    const sub = MemberProtocol.decodeSubscriptionSync(fromHex("0000 00000002 000161 00026263 00000000"))
    expect(sub.version).toBe(0)
    expect(sub.topics).toEqual(["a", "bc"])
    expect(sub.userData).toEqual(new Uint8Array(0))
    expect(sub.ownedPartitions).toEqual([])
    const asg = MemberProtocol.decodeAssignmentSync(fromHex("0000 00000001 000174 00000002 00000000 00000002 00000000"))
    expect(asg.partitions).toEqual([TopicPartition.make("t", 0), TopicPartition.make("t", 2)])
  })

  it("decodes a Java/librdkafka v1 subscription with owned partitions and a null userData", () => {
    const bytes = fromHex(
      "0001" + "00000001" + "000174" + "ffffffff" + // v1, ["t"], userData null
        "00000001" + "000174" + "00000001" + "00000005", // owned: t-5
    )
    const sub = MemberProtocol.decodeSubscriptionSync(bytes)
    expect(sub).toEqual({
      version: 1,
      topics: ["t"],
      userData: null,
      ownedPartitions: [TopicPartition.make("t", 5)],
      generationId: -1,
      rackId: null,
    })
    // and round-trips through our v1 encoder (userData null kept)
    expect(hex(MemberProtocol.encodeSubscription({ version: 1, topics: ["t"], userData: null, ownedPartitions: [TopicPartition.make("t", 5)] }))).toBe(hex(bytes))
  })

  it("reads a subscription that stops after the topics, and ignores fields of newer versions", () => {
    expect(MemberProtocol.decodeSubscriptionSync(fromHex("0000 00000001 000174")).userData).toBeNull()
    const v9 = MemberProtocol.decodeSubscriptionSync(fromHex("0009 00000001 000174 00000000 00000000 0000002a 0002 7231 deadbeef"))
    expect(v9.version).toBe(9)
    expect(v9.generationId).toBe(42)
    expect(v9.rackId).toBe("r1")
  })

  it("an empty assignment buffer is no partitions", () => {
    expect(MemberProtocol.decodeAssignmentSync(new Uint8Array(0)).partitions).toEqual([])
  })

  it.effect("truncated bytes are a typed MemberProtocolError, not a defect", () =>
    Effect.gen(function* () {
      const r = yield* Effect.either(MemberProtocol.decodeAssignment(fromHex("0000 00000001 0005 74")))
      expect(Either.isLeft(r)).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left._tag).toBe("MemberProtocolError")
        expect(r.left.what).toBe("MemberAssignment")
      }
      const s = yield* Effect.either(MemberProtocol.decodeSubscription(fromHex("00")))
      expect(Either.isLeft(s)).toBe(true)
    }),
  )
})
