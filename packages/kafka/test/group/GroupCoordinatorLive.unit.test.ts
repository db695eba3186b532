/**
 * How kafkajs's errors of group requests become core's group errors, with kafkajs's own error
 * classes (what its broker requests throw).
 */
import { createRequire } from "node:module"
import { describe, expect, it } from "@effect/vitest"
import { ErrorCode, GroupError } from "@kafka-effect/core"
import { groupFailure } from "../../src/internal/errors.js"

interface KafkaJSErrors {
  readonly KafkaJSProtocolError: new (e: { message: string; type: string; code: number; retriable: boolean }) => Error
  readonly KafkaJSMemberIdRequired: new (e: Error, facts: { memberId: string }) => Error
  readonly KafkaJSConnectionError: new (message: string) => Error
  readonly KafkaJSGroupCoordinatorNotFound: new (message: string) => Error
  readonly KafkaJSNumberOfRetriesExceeded: new (e: Error, facts: { retryCount: number; retryTime: number }) => Error
}
const errors: KafkaJSErrors = createRequire(import.meta.url)("kafkajs/src/errors")

const protocolError = (code: number) =>
  new errors.KafkaJSProtocolError({ message: ErrorCode.name(code), type: ErrorCode.name(code), code, retriable: false })

describe("groupFailure", () => {
  it("MEMBER_ID_REQUIRED (JoinGroup v4+) is a retriable MemberIdRequired with the member id the coordinator gave", () => {
    const e = new errors.KafkaJSMemberIdRequired(protocolError(ErrorCode.MEMBER_ID_REQUIRED), { memberId: "m-1" })
    const mapped = groupFailure(e, { groupId: "g", api: "JoinGroup", memberId: "" })
    expect(mapped).toBeInstanceOf(GroupError.MemberIdRequired)
    expect(mapped).toMatchObject({ _tag: "MemberIdRequired", groupId: "g", memberId: "m-1", retriable: true })
    expect(GroupError.isRejoinError(mapped)).toBe(true)
  })

  it("REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION are rejoin errors; NOT_COORDINATOR (wrapped by kafkajs's retrier) a coordinator error", () => {
    const facts = { groupId: "g", api: "Heartbeat", memberId: "m-1", generationId: 4 } as const
    expect(groupFailure(protocolError(ErrorCode.REBALANCE_IN_PROGRESS), facts)._tag).toBe("RebalanceInProgress")
    expect(groupFailure(protocolError(ErrorCode.UNKNOWN_MEMBER_ID), facts)).toMatchObject({ _tag: "UnknownMemberId", memberId: "m-1" })
    expect(groupFailure(protocolError(ErrorCode.ILLEGAL_GENERATION), facts)).toMatchObject({ _tag: "IllegalGeneration", generationId: 4 })
    expect(groupFailure(new errors.KafkaJSNumberOfRetriesExceeded(protocolError(ErrorCode.NOT_COORDINATOR), { retryCount: 0, retryTime: 0 }), facts)._tag).toBe("NotCoordinator")
  })

  it("no broker naming a coordinator yet (kafkajs's KafkaJSGroupCoordinatorNotFound) is a retriable CoordinatorNotAvailable", () => {
    const mapped = groupFailure(new errors.KafkaJSGroupCoordinatorNotFound("Failed to find group coordinator"), { groupId: "g", api: "FindCoordinator" })
    expect(mapped).toMatchObject({ _tag: "CoordinatorNotAvailable", groupId: "g", api: "FindCoordinator", code: ErrorCode.COORDINATOR_NOT_AVAILABLE, retriable: true })
    expect(GroupError.isCoordinatorError(mapped)).toBe(true)
  })

  it("a closed connection is a retriable GroupTransportError", () => {
    expect(groupFailure(new errors.KafkaJSConnectionError("Connection error: ECONNREFUSED"), { groupId: "g", api: "SyncGroup" })).toMatchObject({
      _tag: "GroupTransportError",
      reason: "Network",
      retriable: true,
    })
  })
})
