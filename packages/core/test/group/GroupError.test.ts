import { describe, expect, it } from "@effect/vitest"
import { GroupError } from "@kafka-effect/core"

const facts = { groupId: "g", api: "Heartbeat" as const, memberId: "m-1", generationId: 7 }

describe("GroupError.fromCode", () => {
  it("maps the group codes to their tags, with the facts and retriable flags", () => {
    const tags = [0, 14, 15, 16, 22, 23, 25, 27, 30, 79].map((code) => {
      const e = GroupError.fromCode(code, facts)
      return e === undefined ? [code, "none"] : [code, e._tag, "retriable" in e ? e.retriable : "-"]
    })
    expect(tags).toEqual([
      [0, "none"],
      [14, "CoordinatorNotAvailable", true],
      [15, "CoordinatorNotAvailable", true],
      [16, "NotCoordinator", true],
      [22, "IllegalGeneration", true],
      [23, "InconsistentGroupProtocol", false],
      [25, "UnknownMemberId", true],
      [27, "RebalanceInProgress", true],
      [30, "GroupAuthorizationFailed", false],
      [79, "MemberIdRequired", true],
    ])
    expect(GroupError.fromCode(22, facts)).toMatchObject({ generationId: 7, api: "Heartbeat", groupId: "g" })
    expect(GroupError.fromCode(25, facts)).toMatchObject({ memberId: "m-1" })
  })

  it("other codes keep their code and name as a non-retriable BrokerError", () => {
    const e = GroupError.fromCode(26, { ...facts, name: "INVALID_SESSION_TIMEOUT" })
    expect(e).toMatchObject({ _tag: "BrokerError", code: 26, name: "INVALID_SESSION_TIMEOUT", retriable: false, api: "Heartbeat" })
  })

  it("classifies what the membership does next", () => {
    const rejoin = [22, 25, 27, 79].map((c) => GroupError.fromCode(c, facts)!)
    const refind = [14, 15, 16].map((c) => GroupError.fromCode(c, facts)!)
    expect(rejoin.every(GroupError.isRejoinError)).toBe(true)
    expect(refind.every(GroupError.isCoordinatorError)).toBe(true)
    expect(refind.some(GroupError.isRejoinError)).toBe(false)
    expect(GroupError.isRejoinError(GroupError.fromCode(30, facts)!)).toBe(false)
  })
})
