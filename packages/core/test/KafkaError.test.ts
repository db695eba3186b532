import { describe, expect, it } from "@effect/vitest"
import { KafkaError, TopicPartition } from "@kafka-effect/core"

describe("KafkaError", () => {
  it("InvalidConfig names the field and the value", () => {
    const e = new KafkaError.InvalidConfig({ field: "maxWaitMs", value: -5, reason: "must be >= 0" })
    expect(e._tag).toBe("InvalidConfig")
    expect(e.message).toBe("Invalid config maxWaitMs=-5: must be >= 0")
  })

  it("ListOffsetsError carries the out-of-range facts it was healing", () => {
    const oor = new KafkaError.OffsetOutOfRange({ topic: "t", partition: 2, requestedOffset: 7n })
    const e = new KafkaError.ListOffsetsError({
      partitions: [TopicPartition.make("t", 2)],
      reason: "Network",
      retriable: true,
      outOfRange: oor,
    })
    expect(e.outOfRange?.requestedOffset).toBe(7n)
    expect(e.message).toContain("out-of-range offset 7")
  })
})

describe("TopicPartition", () => {
  it("keys round-trip, including topics with dashes", () => {
    const tp = TopicPartition.make("a-b-1", 12)
    expect(TopicPartition.fromKey(TopicPartition.key(tp))).toEqual(tp)
    expect(TopicPartition.key(tp)).not.toBe(TopicPartition.key(TopicPartition.make("a-b", 112)))
  })
})
