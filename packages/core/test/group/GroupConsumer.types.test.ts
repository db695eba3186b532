/**
 * The error channels of a group's public streams, checked by the compiler (`pnpm typecheck`): an
 * error the membership handles itself must never come back into them.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type { GroupConsumer, GroupError, GroupMembership } from "@kafka-effect/core"
import type { Effect, Stream } from "effect"

/** What the membership retries itself: it rejoins, or finds the coordinator again. */
type Retried = (GroupError.RejoinError | GroupError.CoordinatorError)["_tag"]

type RecordsError = Stream.Stream.Error<GroupConsumer.GroupSubscription["records"]>
type ChunksError = Stream.Stream.Error<GroupConsumer.GroupSubscription["chunks"]>
type FailureError = Effect.Effect.Error<GroupMembership.Membership["failure"]>

describe("a group's error channels", () => {
  it("hold no error the membership retries itself", () => {
    expectTypeOf<Extract<RecordsError, { readonly _tag: Retried }>>().toBeNever()
    expectTypeOf<Extract<ChunksError, { readonly _tag: Retried }>>().toBeNever()
    expectTypeOf<Extract<FailureError, { readonly _tag: Retried }>>().toBeNever()
  })

  it("hold every error the membership cannot get past, as the docs list them", () => {
    expectTypeOf<FailureError["_tag"]>().toEqualTypeOf<
      | "GroupAuthorizationFailed"
      | "InconsistentGroupProtocol"
      | "GroupTransportError"
      | "TopicAuthorizationFailed"
      | "UnknownTopicOrPartition"
      | "BrokerError"
      | "CorruptResponse"
      | "UnsupportedAssignor"
      | "MemberProtocolError"
    >()
    expectTypeOf<Extract<RecordsError, GroupMembership.FatalGroupError>>().toEqualTypeOf<GroupMembership.FatalGroupError>()
  })
})
