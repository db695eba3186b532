/**
 * The CLI's `consume --group G`: joins the group, starts each partition at the group's committed
 * offset (else where `--from` says), hands each chunk to `print`, commits what was printed, and
 * leaves the group when the scope closes (after `--max` records, or on Ctrl-C).
 */
import { Consumer, type ConsumerRecord, GroupConsumer, TopicPartition } from "@kafka-effect/core"
import { Chunk, Deferred, Effect, Layer, Stream } from "effect"
import type { KafkaClient } from "../KafkaClient.js"
import * as GroupCoordinatorLive from "./GroupCoordinatorLive.js"

export type From = { readonly _tag: "Beginning" } | { readonly _tag: "End" } | { readonly _tag: "Offset"; readonly offset: bigint }

export interface GroupConsumeArgs {
  readonly brokers: ReadonlyArray<string>
  readonly topic: string
  readonly group: string
  readonly from: From
  readonly max: number | undefined
}

export const consumeGroup = (
  client: KafkaClient["Type"],
  args: GroupConsumeArgs,
  print: (records: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => void,
) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make({
      config: {
        isolationLevel: client.config.isolationLevel,
        autoOffsetReset: args.from._tag === "Beginning" ? "earliest" : "latest",
      },
    })
    // The coordinator connection lives as long as the command (built in its scope, not per call).
    const coordinator = yield* Layer.build(
      GroupCoordinatorLive.layer({
        brokers: args.brokers,
        clientId: client.config.clientId,
        ssl: client.config.ssl,
        ...(client.config.sasl === undefined ? {} : { sasl: client.config.sasl }),
      }),
    )
    const ready = yield* Deferred.make<GroupConsumer.GroupSubscription>()
    const from = args.from
    // `--from <offset>`: partitions the group has no offset for start there.
    const onAssigned = (partitions: ReadonlyArray<TopicPartition.TopicPartition>) =>
      from._tag !== "Offset" || partitions.length === 0
        ? Effect.void
        : Effect.gen(function* () {
            const sub = yield* Deferred.await(ready)
            const committed = yield* sub.membership.committed(partitions)
            for (const c of committed) {
              if (c.offset === undefined) yield* consumer.seek(TopicPartition.make(c.topic, c.partition), from.offset)
            }
          }).pipe(Effect.catchAll((e) => Effect.logWarning(`--from ${from.offset}: could not read the group's offsets: ${e.message}`)))
    // A short session: a CLI that is killed should not hold its partitions for long.
    const sub = yield* GroupConsumer.subscribe(consumer, [args.topic], {
      groupId: args.group,
      sessionTimeout: "10 seconds",
      heartbeatInterval: "1 second",
      listener: { onAssigned },
    }).pipe(
      Effect.provide(coordinator),
    )
    yield* Deferred.succeed(ready, sub)
    const records = args.max === undefined ? sub.records : sub.records.pipe(Stream.take(args.max))
    yield* records.pipe(
      Stream.chunks,
      Stream.runForEach((chunk) =>
        Effect.zipRight(
          Effect.sync(() => print(chunk)),
          sub.markProcessed(Chunk.toReadonlyArray(chunk)),
        ),
      ),
    )
  })
