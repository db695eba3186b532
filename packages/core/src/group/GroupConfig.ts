/**
 * The group settings (`GroupMembership.GroupOptions`) checked with the same vocabulary as the
 * consumer's: a wrong value fails `GroupConsumer.subscribe` at once with `InvalidConfig` naming
 * the field and the value, instead of a coordinator's error code later. Durations are
 * `Duration.DurationInput`.
 *
 * @since 0.1.0
 */
import { Duration, type Effect, Schedule, Schema } from "effect"
import type { InvalidConfig } from "../KafkaError.js"
import * as Settings from "../Settings.js"
import type { Assignor } from "./Assignor.js"

const isAssignor = (u: unknown): u is Assignor =>
  typeof u === "object" && u !== null && "name" in u && typeof u.name === "string" && u.name.length > 0 &&
  "assign" in u && typeof u.assign === "function"

const AssignorSchema = Schema.declare(isAssignor, { message: () => "must be an Assignor (a name and an assign function)" })

const ScheduleSchema = Schema.declare(
  (u: unknown): u is Schedule.Schedule<unknown, unknown> => Schedule.isSchedule(u),
  { message: () => "must be a Schedule" },
)

const Listener = Schema.Struct({
  onRevoked: Schema.optional(Schema.declare((u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function", { message: () => "must be a function" })),
  onAssigned: Schema.optional(Schema.declare((u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function", { message: () => "must be a function" })),
  onLost: Schema.optional(Schema.declare((u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function", { message: () => "must be a function" })),
})

const positiveDuration = Settings.duration({ min: 1 })

const Fields = Schema.Struct({
  groupId: Settings.nonEmptyString,
  topics: Schema.Array(Settings.nonEmptyString).pipe(Schema.minItems(1, { message: () => "at least one topic is required" })),
  sessionTimeout: Schema.optional(positiveDuration),
  rebalanceTimeout: Schema.optional(positiveDuration),
  heartbeatInterval: Schema.optional(positiveDuration),
  assignors: Schema.optional(Schema.Array(AssignorSchema).pipe(Schema.minItems(1, { message: () => "at least one assignor is required" }))),
  autoCommit: Schema.optional(Settings.boolean),
  autoCommitInterval: Schema.optional(positiveDuration),
  retrySchedule: Schema.optional(ScheduleSchema),
  listener: Schema.optional(Listener),
  metadataMaxAge: Schema.optional(positiveDuration),
})

/**
 * The `Schema` of a group consumer's configuration: decodes and validates it (e.g. the session
 * timeout must exceed the heartbeat interval), failing with the field and value that are wrong.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GroupConfig = Fields.pipe(
  Schema.filter((o) => {
    const session = o.sessionTimeout ?? Duration.seconds(30)
    const heartbeat = o.heartbeatInterval ?? Duration.seconds(3)
    return (
      Duration.lessThan(heartbeat, session) || {
        path: ["heartbeatInterval"],
        message: `must be shorter than the session timeout (${Duration.format(session)})`,
      }
    )
  }),
)

/**
 * The fields, for tools and tests that go over every one.
 *
 * @since 0.1.0
 * @category schemas
 */
export const fieldNames: ReadonlyArray<string> = Object.keys(Fields.fields)

const decoder = Settings.decoder(GroupConfig)

/**
 * Checks group options; the failure names the first wrong field and its value. A heartbeat
 * interval must be shorter than the session timeout (as Kafka's clients require), or the member
 * would be dropped between two heartbeats.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (options: unknown): Effect.Effect<typeof GroupConfig.Type, InvalidConfig> => decoder.decode(options)
