import { describe, expect, it } from "@effect/vitest"
import { ErrorCode } from "@kafka-effect/core"

describe("ErrorCode", () => {
  it("has Kafka's names and retriable flags", () => {
    expect(ErrorCode.info(ErrorCode.OFFSET_OUT_OF_RANGE)).toEqual({ code: 1, name: "OFFSET_OUT_OF_RANGE", retriable: false })
    expect(ErrorCode.info(ErrorCode.NOT_LEADER_OR_FOLLOWER)).toEqual({ code: 6, name: "NOT_LEADER_OR_FOLLOWER", retriable: true })
    expect(ErrorCode.fromName("TOPIC_AUTHORIZATION_FAILED")?.code).toBe(29)
    expect(ErrorCode.isRetriable(ErrorCode.NOT_COORDINATOR)).toBe(true)
    expect(ErrorCode.isRetriable(ErrorCode.REBALANCE_IN_PROGRESS)).toBe(false)
  })

  it("names a code it does not know by its number, not retriable", () => {
    expect(ErrorCode.info(999)).toEqual({ code: 999, name: "UNKNOWN_ERROR_CODE_999", retriable: false })
    expect(ErrorCode.fromName("NO_SUCH_CODE")).toBeUndefined()
  })

  it("each exported name is the protocol name of its code, and each code is defined once", () => {
    const constants = Object.entries(ErrorCode).flatMap(([key, value]) => (typeof value === "number" ? [[key, value] as const] : []))
    expect(constants.length).toBe(ErrorCode.all.length)
    for (const [key, code] of constants) expect(ErrorCode.name(code)).toBe(key)
    expect(new Set(ErrorCode.all.map((i) => i.code)).size).toBe(ErrorCode.all.length)
    expect(ErrorCode.all.map((i) => i.code)).toEqual([...ErrorCode.all.map((i) => i.code)].sort((a, b) => a - b))
  })
})
