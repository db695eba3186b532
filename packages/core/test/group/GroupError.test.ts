import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, GroupError, KafkaError } from "@kafka-effect/core"

const facts = { groupId: "g", api: "Heartbeat" as const, memberId: "m-1", generationId: 7 }

describe("GroupError.fromCode", () => {
  it("maps the group codes to their tags, with the facts and retriable flags", () => {
    const codes = [
      ErrorCode.NONE,
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
      ErrorCode.NOT_COORDINATOR,
      ErrorCode.ILLEGAL_GENERATION,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
      ErrorCode.UNKNOWN_MEMBER_ID,
      ErrorCode.REBALANCE_IN_PROGRESS,
      ErrorCode.GROUP_AUTHORIZATION_FAILED,
      ErrorCode.MEMBER_ID_REQUIRED,
    ]
    const tags = codes.map((code) => {
      const e = GroupError.fromCode(code, facts)
      return e === undefined ? [ErrorCode.name(code), "none"] : [ErrorCode.name(code), e._tag, "retriable" in e ? e.retriable : "-"]
    })
    expect(tags).toEqual([
      ["NONE", "none"],
      ["COORDINATOR_LOAD_IN_PROGRESS", "CoordinatorNotAvailable", true],
      ["COORDINATOR_NOT_AVAILABLE", "CoordinatorNotAvailable", true],
      ["NOT_COORDINATOR", "NotCoordinator", true],
      ["ILLEGAL_GENERATION", "IllegalGeneration", true],
      ["INCONSISTENT_GROUP_PROTOCOL", "InconsistentGroupProtocol", false],
      ["UNKNOWN_MEMBER_ID", "UnknownMemberId", true],
      ["REBALANCE_IN_PROGRESS", "RebalanceInProgress", true],
      ["GROUP_AUTHORIZATION_FAILED", "GroupAuthorizationFailed", false],
      ["MEMBER_ID_REQUIRED", "MemberIdRequired", true],
    ])
    expect(GroupError.fromCode(ErrorCode.ILLEGAL_GENERATION, facts)).toMatchObject({ generationId: 7, api: "Heartbeat", groupId: "g" })
    expect(GroupError.fromCode(ErrorCode.UNKNOWN_MEMBER_ID, facts)).toMatchObject({ memberId: "m-1" })
  })

  it("other codes keep their code and name as a non-retriable BrokerError", () => {
    const e = GroupError.fromCode(ErrorCode.INVALID_SESSION_TIMEOUT, facts)
    expect(e).toMatchObject({ _tag: "BrokerError", code: 26, name: "INVALID_SESSION_TIMEOUT", retriable: false, api: "Heartbeat" })
  })

  it("classifies what the membership does next", () => {
    const rejoin = [ErrorCode.ILLEGAL_GENERATION, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.MEMBER_ID_REQUIRED].map(
      (c) => GroupError.fromCode(c, facts)!,
    )
    const refind = [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR].map(
      (c) => GroupError.fromCode(c, facts)!,
    )
    expect(rejoin.every(GroupError.isRejoinError)).toBe(true)
    expect(refind.every(GroupError.isCoordinatorError)).toBe(true)
    expect(refind.some(GroupError.isRejoinError)).toBe(false)
    expect(GroupError.isRejoinError(GroupError.fromCode(ErrorCode.GROUP_AUTHORIZATION_FAILED, facts)!)).toBe(false)
  })

  it("a group error is told apart by its TypeId, and a class that never varies says so itself", () => {
    const e = GroupError.fromCode(ErrorCode.NOT_COORDINATOR, facts)
    expect(GroupError.isGroupError(e)).toBe(true)
    expect(KafkaError.isKafkaError(e)).toBe(false)
    expect(new GroupError.NotCoordinator({ groupId: "g", api: "Heartbeat" }).retriable).toBe(true)
    expect(new GroupError.GroupAuthorizationFailed({ groupId: "g", api: "JoinGroup" }).retriable).toBe(false)
    const broker = GroupError.fromCode(ErrorCode.INVALID_SESSION_TIMEOUT, facts)
    expect(GroupError.isGroupError(broker)).toBe(false)
    expect(KafkaError.isKafkaError(broker)).toBe(true)
    expect(GroupError.isGroupError({ _tag: "NotCoordinator" })).toBe(false)
  })
})
