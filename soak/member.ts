/**
 * One group member of the wire soaks, in a process of its own (the soak SIGKILLs and restarts it):
 * core's `Consumer` and `GroupConsumer` over the kafka package's `KafkaClient` and
 * `GroupCoordinatorLive`. It reports to the parent on stdout, one JSON object a line, before it
 * marks a chunk processed (so nothing committed goes unreported), on file descriptor 3 (stdout and
 * stderr are its log):
 *   {"t":"d","g":generation,"p":partition,"r":[[offset,number],…]}  records delivered
 *   {"t":"r","p":partition,"q":requested,"o":newOffset,"s":skipped}  an OffsetReset event
 *   {"t":"s","g":generation}                                         stable in a generation
 *   {"t":"x","e":"…"}                                                the stream died of an error
 * SIGUSR1 makes it slow (sleeps `slowMs` after each chunk), SIGUSR2 fast again; SIGTERM closes it
 * cleanly (commit, LeaveGroup). Logs go to stderr.
 */
import * as fs from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Consumer, GroupConsumer, type GroupMembership } from "@kafka-effect/core"
import { GroupCoordinatorLive, KafkaClient } from "@kafka-effect/kafka"
import { Cause, Chunk, Effect, Layer, Queue, Schema, Stream } from "effect"
import { byPartition, logLayer } from "./Soak.js"

export const MemberArgs = Schema.Struct({
  name: Schema.String,
  brokers: Schema.Array(Schema.String),
  topic: Schema.String,
  group: Schema.String,
  slowMs: Schema.Number,
  sessionTimeoutMs: Schema.Number,
  verbose: Schema.Boolean,
})
export type MemberArgs = typeof MemberArgs.Type

const args = Schema.decodeUnknownSync(Schema.parseJson(MemberArgs))(process.argv[2] ?? "")

const say = (line: unknown) => {
  // Synchronous, so a line written is out before a SIGKILL can strike.
  fs.writeSync(3, `${JSON.stringify(line)}\n`)
}

let slow = false
process.on("SIGUSR1", () => {
  slow = true
})
process.on("SIGUSR2", () => {
  slow = false
})

const generationOf = (s: GroupMembership.MemberState): number =>
  s._tag === "Stable" || s._tag === "Rebalancing" || s._tag === "Syncing" ? s.generationId : -1

const options = { brokers: args.brokers, clientId: args.name, requestTimeout: "10 seconds", connectionTimeout: "2 seconds" } as const

const program = Effect.gen(function* () {
  const consumer = yield* Consumer.make({ config: { autoOffsetReset: "earliest", maxWait: "300 millis" } })
  const events = yield* consumer.subscribeEvents
  yield* Queue.take(events).pipe(
    Effect.tap((e) =>
      Effect.sync(() => say({ t: "r", p: e.partition, q: Number(e.requestedOffset), o: Number(e.newOffset), s: Number(e.skipped) })),
    ),
    Effect.forever,
    Effect.forkScoped,
  )
  const sub = yield* GroupConsumer.subscribe(consumer, [args.topic], {
    groupId: args.group,
    sessionTimeout: `${args.sessionTimeoutMs} millis`,
    heartbeatInterval: "500 millis",
    rebalanceTimeout: "15 seconds",
    autoCommitInterval: "1 second",
  })
  yield* sub.membership.states.pipe(
    Stream.runForEach((s) => (s._tag === "Stable" ? Effect.sync(() => say({ t: "s", g: s.generationId })) : Effect.void)),
    Effect.forkScoped,
  )
  yield* sub.chunks.pipe(
    Stream.runForEach((chunk) =>
      Effect.gen(function* () {
        const g = generationOf(yield* sub.membership.state)
        for (const [p, list] of byPartition(chunk)) say({ t: "d", g, p, r: list.map((d) => [d.offset, d.n]) })
        if (slow) yield* Effect.sleep(args.slowMs)
        yield* sub.markProcessed(Chunk.toReadonlyArray(chunk))
      }),
    ),
  )
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(KafkaClient.layer(options), GroupCoordinatorLive.layer(options))),
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() => say({ t: "x", e: Cause.pretty(cause).split("\n").slice(0, 3).join(" | ") })),
  ),
  Effect.provide(logLayer(args.verbose)),
)

NodeRuntime.runMain(program)
